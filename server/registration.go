package server

// Dynamic client registration (RFC 7591) and its management (RFC 7592).
//
// Rules enforced here:
//   - POST /oauth/register needs an initial access token (a developer's
//     iat- token, store/developers.go) as a bearer token: without one, or
//     with an unknown or expired one, 401 invalid_token with a Bearer
//     challenge (RFC 6750 §3), and nothing is read of the body.
//   - The app is registered for the token's developer (Owner), so it starts
//     in development like any app of the portal; the registration is
//     audited as that developer.
//   - The body is client metadata as JSON (RFC 7591 §2), at most maxBody,
//     with no key given twice and valid UTF-8 (strictjson.go); metadata
//     enlace does not know is ignored (§2). redirect_uris (1 to
//     maxRedirectURIs, store.ValidateRedirectURI: exact strings, https or
//     http on loopback, no fragment), client_name, scope (space-separated,
//     every one in the catalogue) are required. logo_uri, policy_uri,
//     tos_uri and client_uri are absolute https URLs; the first of
//     contacts is the support email. token_endpoint_auth_method is
//     client_secret_basic (the default), client_secret_post, none (a
//     public app, which must use PKCE) or private_key_jwt (RFC 7523: the
//     app signs an assertion with a key of its jwks, a JSON object, or of
//     its jwks_uri, exactly one of the two; with another method both are
//     ignored, since keys for anything else are not enlace's to use);
//     grant_types only authorization_code and refresh_token,
//     response_types only code. require_pushed_authorization_requests
//     (RFC 9126 §6) and dpop_bound_access_tokens (RFC 9449 §5.2) are
//     booleans, false when absent. The settings are checked together by
//     store.ValidateSecurity, whose message a refusal answers.
//     OpenID Connect Dynamic Client Registration 1.0 §2:
//     id_token_signed_response_alg is RS256 (the default) or ES256 (the
//     answer always names the one in force); post_logout_redirect_uris
//     (RP-Initiated Logout 1.0 §3.1) are at most
//     store.MaxPostLogoutRedirectURIs, each with a redirect URI's rules.
//   - Bad metadata is 400 invalid_redirect_uri (redirect_uris only) or
//     invalid_client_metadata (§3.2.2), and nothing is written:
//     everything is checked, and the logo fetched and decoded, before the
//     app is created.
//   - logo_uri is fetched once, at registration or when an update changes
//     it, through safefetch (https, public addresses only, checked at the
//     dial; no redirects; 5 s; at most store.MaxLogoBytes), decoded and
//     stored re-encoded (store.SetAppLogo): the consent page never loads
//     it from elsewhere. What is not an image is invalid_client_metadata.
//     Why a fetch failed is logged, not answered: the answer does not tell
//     what a name resolves to inside enlace's network.
//   - The answer (201) has every field of RFC 7591 §3.2.1 and RFC 7592 §3:
//     client_id, client_secret (unless public) and client_secret_expires_at
//     (0: it does not expire; neither for private_key_jwt, whose secret
//     could not authenticate it), client_id_issued_at, the metadata as
//     stored (require_pushed_authorization_requests and
//     dpop_bound_access_tokens as in force: true too when the app is on
//     the FAPI 2.0 profile, which the portal sets),
//     registration_access_token (a rat- token, shown only here and stored
//     as a digest) and registration_client_uri. It is never cached.
//   - GET, PUT and DELETE on the registration_client_uri need that app's
//     registration access token: a wrong one, another app's, or an app
//     that does not exist are the same 401 invalid_token (RFC 7592 §2),
//     so nothing tells whether an app exists.
//   - GET answers the registration without the client secret (only its
//     digest is kept). PUT replaces the metadata whole (RFC 7592 §2.2):
//     client_id must be the app's; a client_secret, if sent, must be its
//     current one; token_endpoint_auth_method cannot turn a confidential
//     app public or back, but may move between the secret methods and
//     private_key_jwt: a registration that leaves private_key_jwt for a
//     secret is answered a new secret (store.RotateSecret; RFC 7592 §3),
//     since it never had one; the FAPI 2.0 profile, not a registration
//     member, is kept as it is; a removed redirect URI is refused from the next
//     request on; only the parts that differ are written, so the app's
//     audit trail names what changed, and an update that changes nothing
//     writes nothing. A logo the app got elsewhere (the portal) is not the
//     registration's and is kept when logo_uri is absent. DELETE deletes
//     the app, revoking every connection it had, and answers 204.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
)

// registerPath is the registration endpoint; an app's registration
// client URI is registerPath/{client_id}.
const registerPath = "/oauth/register"

// Bounds of a registration's metadata.
const (
	maxRedirectURIs = 20
	maxClientName   = 200
)

// The token endpoint authentication methods a registration may ask for.
const (
	authBasic = "client_secret_basic"
	authPost  = "client_secret_post"
	authNone  = "none"
)

// clientMetadata is the RFC 7591 §2 client metadata enlace reads; other
// members are ignored.
type clientMetadata struct {
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri"`
	LogoURI                 string   `json:"logo_uri"`
	PolicyURI               string   `json:"policy_uri"`
	TosURI                  string   `json:"tos_uri"`
	Contacts                []string `json:"contacts"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	// ClientID and ClientSecret are an RFC 7592 update's.
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	// WebhookURL is enlace's extension: the app's webhook endpoint.
	WebhookURL string `json:"webhook_url"`
	// IDTokenSignedResponseAlg and PostLogoutRedirectURIs are OpenID
	// Connect's (Dynamic Client Registration 1.0 §2, RP-Initiated Logout
	// 1.0 §3.1).
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris"`
	// JWKS (a JWK Set, as a JSON object) and JWKSURI are the app's public
	// keys (RFC 7591 §2), read only with private_key_jwt.
	JWKS    json.RawMessage `json:"jwks"`
	JWKSURI string          `json:"jwks_uri"`
	// RequirePAR is RFC 9126 §6's require_pushed_authorization_requests;
	// DPoPBoundAccessTokens RFC 9449 §5.2's dpop_bound_access_tokens.
	RequirePAR            bool `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
}

// registration is the answer of every registration call: RFC 7591
// §3.2.1's fields, RFC 7592 §3's, and the metadata as stored.
type registration struct {
	ClientID                string   `json:"client_id"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientIDIssuedAt        int64    `json:"client_id_issued_at"`
	ClientSecretExpiresAt   *int64   `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken string   `json:"registration_access_token"`
	RegistrationClientURI   string   `json:"registration_client_uri"`
	RedirectURIs            []string `json:"redirect_uris"`
	ClientName              string   `json:"client_name"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	TosURI                  string   `json:"tos_uri,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	Scope                   string   `json:"scope"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method"`
	GrantTypes              []string `json:"grant_types"`
	ResponseTypes           []string `json:"response_types"`
	// WebhookURL is the app's webhook endpoint; WebhookSecret its signing
	// secret, in the answer that made it only.
	WebhookURL    string `json:"webhook_url,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
	// IDTokenSignedResponseAlg is the algorithm in force, the default
	// included.
	IDTokenSignedResponseAlg string   `json:"id_token_signed_response_alg"`
	PostLogoutRedirectURIs   []string `json:"post_logout_redirect_uris,omitempty"`
	// JWKS and JWKSURI are the keys of a private_key_jwt app, one of them.
	JWKS    json.RawMessage `json:"jwks,omitempty"`
	JWKSURI string          `json:"jwks_uri,omitempty"`
	// RequirePAR and DPoPBoundAccessTokens are the rules in force.
	RequirePAR            bool `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens"`
}

// checkWebhook refuses a registration's webhook_url that breaks the
// endpoint rules (server.CheckWebhookURL), as invalid_client_metadata.
func (s *Server) checkWebhook(ctx context.Context, raw string) *apierror.Error {
	if raw == "" {
		return nil
	}
	if err := CheckWebhookURL(ctx, raw, s.cfg.Webhooks.AllowPrivateTargets); err != nil {
		return apierror.New(apierror.InvalidClientMetadata, "webhook_url: "+storeDescription(err))
	}
	return nil
}

// registerClient is RFC 7591 §3: register an app for the developer whose
// initial access token the request carries.
func (s *Server) registerClient(c *gin.Context) {
	ctx := c.Request.Context()
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		writeBearer(c, &apierror.Error{Code: apierror.InvalidToken, Status: http.StatusUnauthorized, Anonymous: true,
			Description: "an initial access token is required (Authorization: Bearer)"})
		return
	}
	ia, err := s.store.InitialAccessToken(ctx, tok)
	if errors.Is(err, store.ErrNotFound) {
		writeBearer(c, apierror.New(apierror.InvalidToken, "the initial access token is unknown or expired"))
		return
	}
	if err != nil {
		s.log.ErrorContext(ctx, "read initial access token", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	md, ae := readMetadata(c.Request)
	if ae != nil {
		writeOAuth(c, ae)
		return
	}
	spec, ae := s.registrationSpec(md)
	if ae != nil {
		writeOAuth(c, ae)
		return
	}
	if ae := s.checkWebhook(ctx, md.WebhookURL); ae != nil {
		writeOAuth(c, ae)
		return
	}
	var logo []byte
	if md.LogoURI != "" {
		if logo, ae = s.fetchLogo(ctx, md.LogoURI); ae != nil {
			writeOAuth(c, ae)
			return
		}
	}
	// Counted only once the metadata and the logo are good: a refused
	// request costs the developer nothing.
	wait, err := s.store.AppCreationAttempt(ctx, ia.DeveloperID, s.cfg.Developers.AppsPerDay)
	if err != nil {
		s.registrationFailed(c, "app creation limit", err)
		return
	}
	if wait > 0 {
		writeOAuth(c, &apierror.Error{Code: apierror.TemporarilyUnavailable, Status: http.StatusTooManyRequests,
			RetryAfter:  wait,
			Description: fmt.Sprintf("this developer registered %d apps in the last 24 hours, the most allowed; try again later", s.cfg.Developers.AppsPerDay)})
		return
	}
	spec.Owner = ia.DeveloperID
	by := store.ActorDeveloper(ia.DeveloperID)
	spec.By = by
	app, secret, err := s.store.CreateApp(ctx, spec, s.cfg.Scopes.Names())
	if err != nil {
		s.registrationFailed(c, "register app", err)
		return
	}
	// From here on the app exists: a failure leaves it to its developer
	// (the portal lists it), without a registration access token.
	meta := store.RegistrationMeta{AuthMethod: authMethodOf(md)}
	if logo != nil {
		if app, err = s.store.SetAppLogo(ctx, app.ClientID, logo, by); err != nil {
			s.registrationFailed(c, "store logo", err)
			return
		}
		meta.LogoURI, meta.LogoFingerprint = md.LogoURI, app.Profile.Logo
	}
	webhookSecret := ""
	if md.WebhookURL != "" {
		if webhookSecret, app, err = s.store.SetWebhook(ctx, app.ClientID, md.WebhookURL, s.cfg.Webhooks.AllowPrivateTargets, by); err != nil {
			s.registrationFailed(c, "set webhook", err)
			return
		}
	}
	rat, err := s.store.SetRegistrationToken(ctx, app.ClientID, meta, by)
	if err != nil {
		s.registrationFailed(c, "issue registration access token", err)
		return
	}
	if app.UsesPrivateKeyJWT() {
		// The store made a secret all the same; the token endpoint does
		// not take it from this app, so it is not handed out.
		secret = ""
	}
	s.log.InfoContext(ctx, "app registered (RFC 7591)", "client_id", app.ClientID, "developer_id", ia.DeveloperID)
	s.answerRegistration(c, http.StatusCreated, app, meta, secret, rat, webhookSecret)
}

// readRegistration is RFC 7592 §2.1.
func (s *Server) readRegistration(c *gin.Context) {
	app, meta, rat, ok := s.registrationAccess(c)
	if !ok {
		return
	}
	s.answerRegistration(c, http.StatusOK, app, *meta, "", rat, "")
}

// updateRegistration is RFC 7592 §2.2: the request's metadata replaces the
// registration's.
func (s *Server) updateRegistration(c *gin.Context) {
	ctx := c.Request.Context()
	app, meta, rat, ok := s.registrationAccess(c)
	if !ok {
		return
	}
	md, ae := readMetadata(c.Request)
	if ae != nil {
		writeOAuth(c, ae)
		return
	}
	if md.ClientID != app.ClientID {
		writeOAuth(c, apierror.New(apierror.InvalidClientMetadata, "client_id must be the registration's client_id"))
		return
	}
	if md.ClientSecret != "" && !app.SecretMatches(md.ClientSecret, s.store.Now()) {
		writeOAuth(c, apierror.New(apierror.InvalidClientMetadata,
			"client_secret must be the app's current secret; a new one is not chosen by the client"))
		return
	}
	spec, ae := s.registrationSpec(md)
	if ae != nil {
		writeOAuth(c, ae)
		return
	}
	if spec.Public != app.Public {
		writeOAuth(c, apierror.New(apierror.InvalidClientMetadata,
			"token_endpoint_auth_method cannot turn a confidential app public or a public one confidential; register a new app"))
		return
	}
	// FAPI 2.0 is no registration member: an update keeps it, and is held
	// to it (it needs private_key_jwt).
	spec.Security.FAPI2 = app.FAPI2
	if _, err := store.ValidateSecurity(spec.Security, app.Public, app.FirstParty); err != nil {
		writeOAuth(c, apierror.New(apierror.InvalidClientMetadata, storeDescription(err)))
		return
	}
	if md.WebhookURL != app.Webhook.URL {
		if ae := s.checkWebhook(ctx, md.WebhookURL); ae != nil {
			writeOAuth(c, ae)
			return
		}
	}
	current := meta.RegisteredLogoURI(app)
	var logo []byte
	if md.LogoURI != "" && md.LogoURI != current {
		if logo, ae = s.fetchLogo(ctx, md.LogoURI); ae != nil {
			writeOAuth(c, ae)
			return
		}
	}
	u, changed := registrationChanges(app, spec)
	newMeta := store.RegistrationMeta{AuthMethod: authMethodOf(md), LogoURI: meta.LogoURI, LogoFingerprint: meta.LogoFingerprint}
	if md.LogoURI == "" && current != "" {
		// The registration's logo is dropped; one from elsewhere is not
		// the registration's to drop.
		none := ""
		u.Logo, changed = &none, true
		newMeta.LogoURI, newMeta.LogoFingerprint = "", ""
	}
	by := store.ActorDeveloper(app.Owner)
	if app.Owner == "" {
		by = store.ActorClient(app.ClientID)
	}
	var err error
	if changed {
		if app, err = s.store.UpdateApp(ctx, app.ClientID, u, s.cfg.Scopes.Names(), by); err != nil {
			s.registrationFailed(c, "update app", err)
			return
		}
	}
	if logo != nil {
		if app, err = s.store.SetAppLogo(ctx, app.ClientID, logo, by); err != nil {
			s.registrationFailed(c, "store logo", err)
			return
		}
		newMeta.LogoURI, newMeta.LogoFingerprint = md.LogoURI, app.Profile.Logo
	}
	secret := ""
	if meta.AuthMethod == store.AuthPrivateKeyJWT && !app.UsesPrivateKeyJWT() {
		// The registration's client was never given a secret (see
		// registerClient): now that it authenticates with one, it gets
		// one. Before the metadata is written, so that a retry after a
		// failure here still gets it.
		if secret, app, err = s.store.RotateSecret(ctx, app.ClientID, 0, by); err != nil {
			s.registrationFailed(c, "rotate secret", err)
			return
		}
	}
	if newMeta != *meta {
		if err := s.store.SetRegistrationMeta(ctx, app.ClientID, newMeta, by); err != nil {
			s.registrationFailed(c, "update registration metadata", err)
			return
		}
	}
	webhookSecret := ""
	switch {
	case md.WebhookURL == app.Webhook.URL:
	case md.WebhookURL == "":
		if err := s.store.RemoveWebhook(ctx, app.ClientID, by); err != nil {
			s.registrationFailed(c, "remove webhook", err)
			return
		}
	default:
		if webhookSecret, _, err = s.store.SetWebhook(ctx, app.ClientID, md.WebhookURL, s.cfg.Webhooks.AllowPrivateTargets, by); err != nil {
			s.registrationFailed(c, "set webhook", err)
			return
		}
	}
	if app, err = s.store.GetApp(ctx, app.ClientID); err != nil {
		s.registrationFailed(c, "read app", err)
		return
	}
	s.log.InfoContext(ctx, "registration updated (RFC 7592)", "client_id", app.ClientID)
	s.answerRegistration(c, http.StatusOK, app, newMeta, secret, rat, webhookSecret)
}

// registrationChanges is the update that makes app what an RFC 7592 update
// registers, with only the parts that differ: the request replaces the
// whole registration, but the app's audit trail names what changed, and
// an update that changes nothing writes nothing.
func registrationChanges(app *store.App, spec store.AppSpec) (store.AppUpdate, bool) {
	// RFC 7591 metadata carries no description or publisher: those stay.
	u, changed := app.Changes(spec, store.FieldHomepage, store.FieldPrivacyPolicy, store.FieldTerms, store.FieldSupportEmail)
	if app.SecurityChanges(&u, spec.Security) {
		changed = true
	}
	return u, changed
}

// deleteRegistration is RFC 7592 §2.3: the app is deleted and every
// connection it had revoked.
func (s *Server) deleteRegistration(c *gin.Context) {
	ctx := c.Request.Context()
	app, _, _, ok := s.registrationAccess(c)
	if !ok {
		return
	}
	by := store.ActorDeveloper(app.Owner)
	if app.Owner == "" {
		by = store.ActorClient(app.ClientID)
	}
	if _, err := s.store.DeleteApp(ctx, app.ClientID, by); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.registrationFailed(c, "delete app", err)
		return
	}
	s.log.InfoContext(ctx, "registration deleted (RFC 7592)", "client_id", app.ClientID)
	apierror.NoStore(c.Writer.Header())
	c.Header("Content-Type", "application/json")
	c.Status(http.StatusNoContent)
}

// registrationAccess checks the request's registration access token
// against the app of the path and returns the app, its registration and
// the token; otherwise it has answered and returns false.
func (s *Server) registrationAccess(c *gin.Context) (*store.App, *store.RegistrationMeta, string, bool) {
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		writeBearer(c, &apierror.Error{Code: apierror.InvalidToken, Status: http.StatusUnauthorized, Anonymous: true,
			Description: "the registration access token is required (Authorization: Bearer)"})
		return nil, nil, "", false
	}
	app, meta, err := s.store.CheckRegistrationToken(c.Request.Context(), c.Param("client_id"), tok)
	if errors.Is(err, store.ErrRegistrationToken) {
		writeBearer(c, apierror.New(apierror.InvalidToken,
			"the registration access token is not valid for this registration"))
		return nil, nil, "", false
	}
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "check registration access token", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return nil, nil, "", false
	}
	return app, meta, tok, true
}

// readMetadata reads a JSON client metadata body.
func readMetadata(r *http.Request) (*clientMetadata, *apierror.Error) {
	bad := func(desc string) *apierror.Error { return apierror.New(apierror.InvalidClientMetadata, desc) }
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, bad("the client metadata must be sent as application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, bad("the request body is too large")
		}
		return nil, bad("the request body could not be read")
	}
	if err := strictJSON(body); err != nil {
		return nil, bad(err.Error())
	}
	md := &clientMetadata{}
	if err := json.Unmarshal(body, md); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, bad(fmt.Sprintf("%s has the wrong type (%s, not %s)", te.Field, te.Value, te.Type))
		}
		return nil, bad("the client metadata must be a JSON object")
	}
	return md, nil
}

// registrationSpec checks the metadata and returns the app it registers.
func (s *Server) registrationSpec(md *clientMetadata) (store.AppSpec, *apierror.Error) {
	bad := func(desc string) (store.AppSpec, *apierror.Error) {
		return store.AppSpec{}, apierror.New(apierror.InvalidClientMetadata, desc)
	}
	if len(md.RedirectURIs) == 0 || len(md.RedirectURIs) > maxRedirectURIs {
		return store.AppSpec{}, apierror.New(apierror.InvalidRedirectURI,
			fmt.Sprintf("redirect_uris must list 1 to %d redirect URIs", maxRedirectURIs))
	}
	for _, u := range md.RedirectURIs {
		if err := store.ValidateRedirectURI(u); err != nil {
			return store.AppSpec{}, apierror.New(apierror.InvalidRedirectURI, storeDescription(err))
		}
	}
	name := strings.TrimSpace(md.ClientName)
	if name == "" {
		return bad("client_name is required")
	}
	if utf8.RuneCountInString(name) > maxClientName {
		return bad(fmt.Sprintf("client_name is longer than %d characters", maxClientName))
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) >= 0 {
		return bad("client_name holds a control or format character")
	}
	scopes := strings.Fields(md.Scope)
	if len(scopes) == 0 {
		return bad("scope is required: the space-separated scopes the app may ask for")
	}
	catalogue := s.cfg.Scopes.Names()
	for _, sc := range scopes {
		if !slices.Contains(catalogue, sc) {
			return bad(fmt.Sprintf("unknown scope %q (see scopes_supported in the server metadata)", sc))
		}
	}
	switch md.TokenEndpointAuthMethod {
	case "", authBasic, authPost, authNone, store.AuthPrivateKeyJWT:
	default:
		return bad(fmt.Sprintf("token_endpoint_auth_method %q is not supported (client_secret_basic, client_secret_post, private_key_jwt or none)",
			md.TokenEndpointAuthMethod))
	}
	public := md.TokenEndpointAuthMethod == authNone
	sec := store.Security{RequirePAR: md.RequirePAR, RequireDPoP: md.DPoPBoundAccessTokens}
	if md.TokenEndpointAuthMethod == store.AuthPrivateKeyJWT {
		sec.AuthMethod, sec.JWKSURI = store.AuthPrivateKeyJWT, md.JWKSURI
		if raw := strings.TrimSpace(string(md.JWKS)); raw != "" && raw != "null" {
			if !strings.HasPrefix(raw, "{") {
				return bad("jwks must be a JSON object, a JWK Set (RFC 7591 §2)")
			}
			sec.JWKS = raw
		}
	}
	if _, err := store.ValidateSecurity(sec, public, false); err != nil {
		return bad(storeDescription(err))
	}
	for _, g := range md.GrantTypes {
		if g != "authorization_code" && g != "refresh_token" {
			return bad(fmt.Sprintf("grant type %q is not supported (authorization_code, refresh_token)", g))
		}
	}
	if len(md.GrantTypes) > 0 && !slices.Contains(md.GrantTypes, "authorization_code") {
		return bad("grant_types must include authorization_code")
	}
	for _, rt := range md.ResponseTypes {
		if rt != "code" {
			return bad(fmt.Sprintf("response type %q is not supported (code)", rt))
		}
	}
	for _, l := range []struct{ name, v string }{{"client_uri", md.ClientURI}, {"logo_uri", md.LogoURI},
		{"policy_uri", md.PolicyURI}, {"tos_uri", md.TosURI}} {
		if l.v == "" {
			continue
		}
		if err := store.ValidateHTTPSURL(l.name, l.v); err != nil {
			return bad(storeDescription(err))
		}
	}
	if err := store.ValidateIDTokenAlg(md.IDTokenSignedResponseAlg); err != nil {
		return bad("id_token_signed_response_alg: " + storeDescription(err))
	}
	if err := store.ValidatePostLogoutRedirectURIs(md.PostLogoutRedirectURIs); err != nil {
		return bad("post_logout_redirect_uris: " + storeDescription(err))
	}
	support := ""
	if len(md.Contacts) > 0 {
		support = store.NormalizeEmail(md.Contacts[0])
		if !store.ValidEmail(support) {
			return bad(fmt.Sprintf("contacts: %q is not an email address", md.Contacts[0]))
		}
	}
	return store.AppSpec{
		Name:         name,
		RedirectURIs: md.RedirectURIs,
		Scopes:       scopes,
		Public:       public,
		Profile: store.Profile{Homepage: md.ClientURI, PrivacyPolicy: md.PolicyURI, Terms: md.TosURI,
			SupportEmail: support},
		IDTokenAlg:             md.IDTokenSignedResponseAlg,
		PostLogoutRedirectURIs: md.PostLogoutRedirectURIs,
		Security:               sec,
	}, nil
}

// fetchLogo fetches a logo_uri and checks that it is a logo enlace takes.
// Why a fetch failed is logged, not answered (see the rules above).
func (s *Server) fetchLogo(ctx context.Context, uri string) ([]byte, *apierror.Error) {
	bad := func(desc string) ([]byte, *apierror.Error) {
		return nil, apierror.New(apierror.InvalidClientMetadata, desc)
	}
	b, _, err := s.fetch.Get(ctx, uri)
	switch {
	case errors.Is(err, safefetch.ErrRefused):
		s.log.InfoContext(ctx, "logo_uri refused", "err", err)
		return bad("logo_uri must be an https URL on a public address, answering without a redirect")
	case errors.Is(err, safefetch.ErrTooLarge):
		return bad(fmt.Sprintf("the logo at logo_uri is larger than %d KiB", store.MaxLogoBytes>>10))
	case err != nil:
		s.log.InfoContext(ctx, "logo_uri not fetched", "err", err)
		return bad("the logo could not be fetched from logo_uri")
	}
	if err := store.CheckLogo(b); err != nil {
		return bad("logo_uri: " + storeDescription(err))
	}
	return b, nil
}

// registrationFailed answers a store error of a registration call: a
// refusal of the metadata as invalid_client_metadata, a failure as
// unavailable.
func (s *Server) registrationFailed(c *gin.Context, what string, err error) {
	if errors.Is(err, store.ErrInvalid) {
		writeOAuth(c, apierror.New(apierror.InvalidClientMetadata, storeDescription(err)))
		return
	}
	s.log.ErrorContext(c.Request.Context(), what, "err", err)
	writeOAuth(c, apierror.Unavailable())
}

// storeDescription is a store refusal's message without the sentinel's
// words in front.
func storeDescription(err error) string {
	return strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": ")
}

// authMethodOf is the token_endpoint_auth_method a registration asks for.
func authMethodOf(md *clientMetadata) string {
	if md.TokenEndpointAuthMethod == "" {
		return authBasic
	}
	return md.TokenEndpointAuthMethod
}

// answerRegistration writes the registration of app: secret only when it
// was just made, rat the registration access token the client holds.
func (s *Server) answerRegistration(c *gin.Context, status int, app *store.App, meta store.RegistrationMeta, secret, rat, webhookSecret string) {
	r := registration{
		WebhookURL:              app.Webhook.URL,
		WebhookSecret:           webhookSecret,
		ClientID:                app.ClientID,
		ClientSecret:            secret,
		ClientIDIssuedAt:        app.CreatedAt.Unix(),
		RegistrationAccessToken: rat,
		RegistrationClientURI:   s.cfg.Issuer + registerPath + "/" + app.ClientID,
		RedirectURIs:            app.RedirectURIs,
		ClientName:              app.Name,
		ClientURI:               app.Profile.Homepage,
		LogoURI:                 meta.RegisteredLogoURI(app),
		PolicyURI:               app.Profile.PrivacyPolicy,
		TosURI:                  app.Profile.Terms,
		Scope:                   strings.Join(app.Scopes, " "),
		TokenEndpointAuthMethod: meta.AuthMethod,
		GrantTypes:              []string{"authorization_code", "refresh_token"},
		ResponseTypes:           []string{"code"},
	}
	r.IDTokenSignedResponseAlg, r.PostLogoutRedirectURIs = app.IDTokenSigningAlg(), app.PostLogoutRedirectURIs
	r.RequirePAR, r.DPoPBoundAccessTokens = app.PARRequired(), app.DPoPRequired()
	switch {
	case app.Public:
		r.TokenEndpointAuthMethod = authNone
	case app.UsesPrivateKeyJWT():
		// Whatever the registration said last: the portal may have
		// changed the method since.
		r.TokenEndpointAuthMethod = store.AuthPrivateKeyJWT
		if app.JWKS != "" {
			r.JWKS = json.RawMessage(app.JWKS)
		}
		r.JWKSURI = app.JWKSURI
	default:
		never := int64(0)
		r.ClientSecretExpiresAt = &never
		switch r.TokenEndpointAuthMethod {
		case "", authNone, store.AuthPrivateKeyJWT:
			r.TokenEndpointAuthMethod = authBasic
		}
	}
	if app.Profile.SupportEmail != "" {
		r.Contacts = []string{app.Profile.SupportEmail}
	}
	apierror.NoStore(c.Writer.Header())
	c.JSON(status, r)
}
