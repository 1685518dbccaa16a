package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// App is an OAuth client registered by an admin.
type App struct {
	ClientID     string
	Name         string
	SecretDigest string
	RedirectURIs []string
	Scopes       []string
	CreatedAt    time.Time
	Disabled     bool
	// Public apps (a browser or mobile app) cannot keep a secret: they
	// have none, authenticate with their client id alone, and must use PKCE.
	Public bool
	// RequirePKCE makes PKCE mandatory for a confidential app too.
	RequirePKCE bool
	// FirstParty apps are the platform's own front ends: they alone may
	// sign merchants in with their password (the password grant), which
	// RFC 9700 forbids for anyone else. They are confidential.
	FirstParty bool
	// Generation counts the app's app-wide revocations. Every connection
	// records the generation it was approved under, and one of an older
	// generation is refused by every check: revoking all of an app's
	// connections is this one number going up (RevokeAllConnections).
	Generation int64
	// RevokedAllAt and RevokedAllBy say when and by whom the last app-wide
	// revocation was made (zero when never).
	RevokedAllAt time.Time
	RevokedAllBy Actor

	// Owner is the developer who owns the app; "" for one an operator
	// registered.
	Owner string
	// Status is where the app is in its lifecycle (appprofile.go).
	Status AppStatus
	// ReviewNote is the reason an admin gave when they last sent the app
	// back from review.
	ReviewNote string
	// Profile is what merchants see of the app besides its name.
	Profile Profile
	// TestMerchants are the merchants (ids) who may connect the app while
	// it is in development.
	TestMerchants []string
	// PrevSecretDigest is the digest of the secret a rotation replaced,
	// which still authenticates until PrevSecretUntil.
	PrevSecretDigest string
	PrevSecretUntil  time.Time
	// RegistrationDigest is the digest of the RFC 7592 registration access
	// token of an app registered at /oauth/register; "" for others.
	RegistrationDigest string
	// Webhook is the app's webhook endpoint (webhooks.go).
	Webhook Webhook
	// IDTokenAlg is the algorithm the app's ID tokens are signed with
	// (id_token_signed_response_alg) as stored: one of IDTokenAlgs, or ""
	// for the default (records from before it, and apps that never chose);
	// IDTokenSigningAlg is the one to sign with.
	IDTokenAlg string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back (OpenID Connect RP-Initiated Logout 1.0), compared as
	// exact strings (AllowsPostLogoutRedirect).
	PostLogoutRedirectURIs []string

	// RequirePAR, RequireDPoP and FAPI2 are the app's switches of issue
	// 19 (appsecurity.go): pushed authorization requests only, DPoP-bound
	// access tokens only, the FAPI 2.0 Security Profile (both, and more).
	RequirePAR, RequireDPoP, FAPI2 bool
	// AuthMethod is "" (the secret; none for a public app) or
	// AuthPrivateKeyJWT, with the app's keys in JWKS (a JWK Set, JSON) or
	// at JWKSURI.
	AuthMethod    string
	JWKS, JWKSURI string
}

// The algorithms an app's ID tokens may be signed with
// (id_token_signed_response_alg, OpenID Connect Dynamic Client
// Registration 1.0 §2).
const (
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256: the default, the one
	// OpenID Connect Discovery 1.0 requires every provider to support.
	AlgRS256 = "RS256"
	// AlgES256 is ECDSA on P-256 with SHA-256.
	AlgES256 = "ES256"
)

// IDTokenAlgs returns the algorithms an app's ID tokens may be signed
// with, the default first.
func IDTokenAlgs() []string { return []string{AlgRS256, AlgES256} }

// MaxPostLogoutRedirectURIs bounds an app's post-logout redirect URIs.
const MaxPostLogoutRedirectURIs = 20

// IDTokenSigningAlg returns the algorithm the app's ID tokens are signed
// with: AlgRS256 unless the app chose another.
func (a *App) IDTokenSigningAlg() string {
	switch {
	case a.IDTokenAlg != "":
		return a.IDTokenAlg
	case a.FAPI2:
		// FAPI 2.0 §5.4.1 forbids RS256 (PKCS#1 v1.5).
		return AlgES256
	}
	return AlgRS256
}

// AllowsPostLogoutRedirect reports whether uri is one of the app's
// post-logout redirect URIs, compared as exact strings, like
// AllowsRedirect: "" never is.
func (a *App) AllowsPostLogoutRedirect(uri string) bool {
	return uri != "" && slices.Contains(a.PostLogoutRedirectURIs, uri)
}

// ValidateIDTokenAlg reports whether alg may be an app's ID token
// signing algorithm: one of IDTokenAlgs, or "" for the default.
func ValidateIDTokenAlg(alg string) error {
	if alg == "" || slices.Contains(IDTokenAlgs(), alg) {
		return nil
	}
	return fmt.Errorf("%w: ID token signing algorithm %q is not supported (%s)", ErrInvalid, alg,
		strings.Join(IDTokenAlgs(), " or "))
}

// ValidatePostLogoutRedirectURIs enforces what an app's post-logout
// redirect URIs must be: at most MaxPostLogoutRedirectURIs, each what a
// redirect URI must be (ValidateRedirectURI).
func ValidatePostLogoutRedirectURIs(uris []string) error {
	if n := len(uniq(uris)); n > MaxPostLogoutRedirectURIs {
		return fmt.Errorf("%w: an app has at most %d post-logout redirect URIs, not %d", ErrInvalid, MaxPostLogoutRedirectURIs, n)
	}
	for _, u := range uris {
		if err := validateURI("post-logout redirect URI", u); err != nil {
			return err
		}
	}
	return nil
}

// AppGeneration reads the app's generation from Redis, not a cache: for a
// new connection, which must not be born dead because this instance has
// not yet heard of a revocation made a moment ago.
func (s *Store) AppGeneration(ctx context.Context, clientID string) (int64, error) {
	v, err := s.rdb.HGet(ctx, appKey(clientID), "gen").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read app generation: %w", err)
	}
	gen, _ := strconv.ParseInt(v, 10, 64)
	return gen, nil
}

// Revoked reports whether a connection approved under app generation gen
// is dead by an app-wide revocation.
func (a *App) Revoked(gen int64) bool { return gen < a.Generation }

// NeedsPKCE reports whether every authorization request of the app must
// carry a PKCE challenge.
func (a *App) NeedsPKCE() bool { return a.Public || a.RequirePKCE || a.FAPI2 }

// AppSpec is what an admin supplies to register an app.
type AppSpec struct {
	Name         string
	RedirectURIs []string
	Scopes       []string
	Public       bool
	RequirePKCE  bool
	// FirstParty registers one of the platform's own apps (see App).
	FirstParty bool
	// ClientID and Secret, when set, re-register a known app with the
	// credentials it had (the embedded mode's demo app, whose
	// credentials survive restarts); otherwise both are generated. The
	// secret must be one NewSecret made.
	ClientID, Secret string
	// Owner is the developer the app belongs to; such an app starts in
	// development. An app without one (an operator's) is published.
	Owner string
	// Profile is the app's public profile.
	Profile Profile
	// TestMerchants may connect the app while it is in development.
	TestMerchants []string
	// IDTokenAlg is the ID token signing algorithm (one of IDTokenAlgs),
	// "" for the default.
	IDTokenAlg string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back; none by default.
	PostLogoutRedirectURIs []string
	// Security is the app's PAR, DPoP, FAPI 2.0 and client-key settings
	// (appsecurity.go); the zero value is the Multivende defaults.
	Security Security
	// By is who registers the app, for its audit event; none is the
	// operator (ActorCLI).
	By Actor
}

// AllowsRedirect reports whether uri is one of the app's registered redirect
// URIs, compared as exact strings (RFC 9700 §4.1.3): no prefix, suffix or
// host matching of any kind.
func (a *App) AllowsRedirect(uri string) bool {
	return uri != "" && slices.Contains(a.RedirectURIs, uri)
}

// Unregistered returns the first of scopes the app is not registered
// for, or "" when it may ask for them all.
func (a *App) Unregistered(scopes []string) string {
	for _, sc := range scopes {
		if !a.AllowsScope(sc) {
			return sc
		}
	}
	return ""
}

// AllowsScope reports whether the app is registered for scope.
func (a *App) AllowsScope(scope string) bool { return slices.Contains(a.Scopes, scope) }

// ValidateRedirectURI enforces what a registered redirect URI must be: an
// absolute http(s) URI with a host and without a fragment (RFC 6749 §3.1.2).
func ValidateRedirectURI(raw string) error { return validateURI("redirect URI", raw) }

// validateURI is ValidateRedirectURI's rules, its refusals naming the URI
// as what.
func validateURI(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s %q does not parse: %v", ErrInvalid, what, raw, err)
	}
	switch {
	case !u.IsAbs():
		return fmt.Errorf("%w: %s %q is not absolute", ErrInvalid, what, raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: %s %q must use https", ErrInvalid, what, raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		// RFC 9700 §2.6: plain http only for apps on the merchant's own
		// machine; anywhere else the code would cross the network in clear.
		return fmt.Errorf("%w: %s %q must use https (http is only for localhost)", ErrInvalid, what, raw)
	case u.Host == "":
		return fmt.Errorf("%w: %s %q has no host", ErrInvalid, what, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: %s %q must not contain a fragment", ErrInvalid, what, raw)
	}
	return nil
}

// CreateApp validates spec against the scope catalogue, registers the app
// and returns it with its client secret. The secret is generated (256 bits),
// returned only here and stored only as a digest; a public app has none
// (""). Nothing is written when the spec is invalid.
func (s *Store) CreateApp(ctx context.Context, spec AppSpec, catalogue []string) (*App, string, error) {
	if err := validateSpec(spec, catalogue); err != nil {
		return nil, "", err
	}
	if spec.By == "" {
		spec.By = ActorCLI
	}
	profile, err := spec.Profile.normalize()
	if err != nil {
		return nil, "", err
	}
	status := StatusPublished
	if spec.Owner != "" {
		status = StatusDevelopment
	}
	name := strings.TrimSpace(spec.Name)
	secret, digest := "", ""
	if !spec.Public {
		secret = spec.Secret
		if len(secret) < 43 {
			secret = NewSecret()
		}
		digest = Digest(secret)
	}
	clientID := spec.ClientID
	if clientID == "" {
		clientID = NewID()
	}
	app := &App{
		ClientID:      clientID,
		Name:          name,
		SecretDigest:  digest,
		Public:        spec.Public,
		RequirePKCE:   spec.RequirePKCE || spec.Public,
		FirstParty:    spec.FirstParty,
		RedirectURIs:  uniq(spec.RedirectURIs),
		Scopes:        uniq(spec.Scopes),
		CreatedAt:     s.now().UTC().Truncate(time.Millisecond),
		Owner:         spec.Owner,
		Status:        status,
		Profile:       profile,
		TestMerchants: uniq(spec.TestMerchants),

		IDTokenAlg:             spec.IDTokenAlg,
		PostLogoutRedirectURIs: uniq(spec.PostLogoutRedirectURIs),
	}
	jwks, err := ValidateSecurity(spec.Security, spec.Public, spec.FirstParty)
	if err != nil {
		return nil, "", err
	}
	app.setSecurity(spec.Security, jwks)
	uris, err := json.Marshal(app.RedirectURIs)
	if err != nil {
		return nil, "", fmt.Errorf("encode redirect URIs: %w", err)
	}
	fields := map[string]string{
		"client_id":      app.ClientID,
		"name":           app.Name,
		"secret":         app.SecretDigest,
		"redirect_uris":  string(uris),
		"scopes":         strings.Join(app.Scopes, " "),
		"created_at":     strconv.FormatInt(ms(app.CreatedAt), 10),
		"disabled":       "0",
		"public":         boolField(app.Public),
		"require_pkce":   boolField(app.RequirePKCE),
		"first_party":    boolField(app.FirstParty),
		"owner":          app.Owner,
		"status":         string(app.Status),
		"test_merchants": jsonList(app.TestMerchants),
		"detail":         "created",

		"id_token_alg":              app.IDTokenAlg,
		"post_logout_redirect_uris": jsonList(app.PostLogoutRedirectURIs),
	}
	for k, v := range securityFields(app) {
		fields[k] = v
	}
	for k, v := range profileFields(app.Profile) {
		fields[k] = fmt.Sprint(v)
	}
	// The record and the indexes are in different slots on a Redis
	// Cluster, so not one script: the index entries go first (ListApps
	// skips entries without a record), then the record with its audit
	// event in one script; a failure undoes the entries.
	// An entry that was there already (the same client id in the same
	// millisecond) is not this call's to undo.
	indexes := []string{appsIndexKey}
	if app.Owner != "" {
		indexes = append(indexes, developerAppsKey(app.Owner))
	}
	added := make([]*redis.IntCmd, len(indexes))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range indexes {
			added[i] = p.ZAdd(ctx, k, redis.Z{Member: appsMember(app)})
		}
		return nil
	})
	if err == nil {
		var res *AppResult
		if res, err = s.changeApp(ctx, app.ClientID, "create", spec.By, fields); err == nil && res.Outcome == OutcomeAlready {
			err = fmt.Errorf("%w: client id %s is taken", ErrConflict, app.ClientID)
		}
	}
	if err != nil {
		undo := context.WithoutCancel(ctx)
		for i, k := range indexes {
			if added[i].Val() == 1 {
				_ = s.rdb.ZRem(undo, k, appsMember(app)).Err()
			}
		}
		return nil, "", fmt.Errorf("create app: %w", err)
	}
	return app, secret, nil
}

// validateSpec applies the rules of an app's registration.
func validateSpec(spec AppSpec, catalogue []string) error {
	if strings.TrimSpace(spec.Name) == "" {
		return fmt.Errorf("%w: the app needs a name", ErrInvalid)
	}
	if len(spec.RedirectURIs) == 0 && !spec.FirstParty {
		// A first-party app may sign merchants in without ever sending
		// them through the consent pages.
		return fmt.Errorf("%w: the app needs at least one redirect URI", ErrInvalid)
	}
	if spec.FirstParty && spec.Public {
		return fmt.Errorf("%w: a first-party app takes passwords and must be confidential, not public", ErrInvalid)
	}
	for _, u := range spec.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return err
		}
	}
	if err := ValidatePostLogoutRedirectURIs(spec.PostLogoutRedirectURIs); err != nil {
		return err
	}
	if err := ValidateIDTokenAlg(spec.IDTokenAlg); err != nil {
		return err
	}
	if spec.Security.FAPI2 && spec.IDTokenAlg == AlgRS256 {
		return fmt.Errorf("%w: FAPI 2.0 forbids RS256 ID tokens; choose ES256", ErrInvalid)
	}
	if len(spec.Scopes) == 0 {
		return fmt.Errorf("%w: the app needs at least one scope", ErrInvalid)
	}
	for _, sc := range spec.Scopes {
		if !slices.Contains(catalogue, sc) {
			return fmt.Errorf("%w: unknown scope %q (not in the catalogue)", ErrInvalid, sc)
		}
	}
	return nil
}

// GetApp returns the app with this client id, or ErrNotFound.
func (s *Store) GetApp(ctx context.Context, clientID string) (*App, error) {
	if clientID == "" {
		return nil, ErrNotFound
	}
	m, err := s.rdb.HGetAll(ctx, appKey(clientID)).Result()
	if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	if len(m) == 0 || m["deleted"] == "1" {
		return nil, ErrNotFound
	}
	return decodeApp(m)
}

// appsMember is the app's entry in the apps index: by creation, then id.
func appsMember(a *App) string { return byCreation(ms(a.CreatedAt), a.ClientID) }

// AppPage is one page of apps.
type AppPage struct {
	Apps []*App
	// Next is the cursor of the following page, "" on the last.
	Next string
	// Total is how many apps there are.
	Total int
}

// ListApps returns a page of apps, oldest first: after p.Cursor (a Next
// of an earlier page), or skipping p.Offset (at most MaxOffset), at most
// p.Limit (50 when 0, at most MaxLimit). One range read and one pipeline
// of records, whatever the number of apps.
func (s *Store) ListApps(ctx context.Context, p Page) (*AppPage, error) {
	return s.listAppsIn(ctx, appsIndexKey, p)
}

// DeveloperApps returns a page of a developer's apps, oldest first, as
// ListApps pages.
func (s *Store) DeveloperApps(ctx context.Context, developerID string, p Page) (*AppPage, error) {
	return s.listAppsIn(ctx, developerAppsKey(developerID), p)
}

func (s *Store) listAppsIn(ctx context.Context, index string, p Page) (*AppPage, error) {
	ids, next, total, err := s.pageByCreation(ctx, index, p)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	out := &AppPage{Next: next, Total: total}
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err = s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = pl.HGetAll(ctx, appKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	for _, c := range cmds {
		if len(c.Val()) == 0 || c.Val()["deleted"] == "1" {
			continue // an entry whose record is gone (keys.go), or deleted
		}
		a, err := decodeApp(c.Val())
		if err != nil {
			return nil, err
		}
		out.Apps = append(out.Apps, a)
	}
	return out, nil
}

// AllApps returns every app, oldest first, page by page: for the CLI and
// for tools, not for a request path.
func (s *Store) AllApps(ctx context.Context) ([]*App, error) {
	return all(ctx, func(ctx context.Context, p Page) ([]*App, string, error) {
		page, err := s.ListApps(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return page.Apps, page.Next, nil
	})
}

// all reads every page of a listing.
func all[T any](ctx context.Context, list func(context.Context, Page) ([]T, string, error)) ([]T, error) {
	var out []T
	p := Page{Limit: MaxLimit}
	for {
		items, next, err := list(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" {
			return out, nil
		}
		p.Cursor = next
	}
}

func decodeApp(m map[string]string) (*App, error) {
	a := &App{
		ClientID:     m["client_id"],
		Name:         m["name"],
		SecretDigest: m["secret"],
		Scopes:       strings.Fields(m["scopes"]),
		Disabled:     m["disabled"] == "1",
		Public:       m["public"] == "1",
		RequirePKCE:  m["require_pkce"] == "1",
		FirstParty:   m["first_party"] == "1",
	}
	if err := json.Unmarshal([]byte(m["redirect_uris"]), &a.RedirectURIs); err != nil {
		return nil, fmt.Errorf("decode app %s redirect URIs: %w", a.ClientID, err)
	}
	created, _ := strconv.ParseInt(m["created_at"], 10, 64)
	a.CreatedAt = fromMS(created)
	a.Generation, _ = strconv.ParseInt(m["gen"], 10, 64)
	revokedAll, _ := strconv.ParseInt(m["revoked_all_at"], 10, 64)
	a.RevokedAllAt, a.RevokedAllBy = fromMS(revokedAll), Actor(m["revoked_all_by"])
	a.Owner, a.ReviewNote = m["owner"], m["review_note"]
	a.Status = AppStatus(m["status"])
	if a.Status == "" {
		// Apps from before the lifecycle were an operator's, and live.
		a.Status = StatusPublished
	}
	a.Profile = decodeProfile(m)
	a.Webhook = decodeWebhook(m)
	if v := m["test_merchants"]; v != "" {
		if err := json.Unmarshal([]byte(v), &a.TestMerchants); err != nil {
			return nil, fmt.Errorf("decode app %s test merchants: %w", a.ClientID, err)
		}
	}
	a.PrevSecretDigest = m["secret_prev"]
	if until, _ := strconv.ParseInt(m["secret_prev_until"], 10, 64); until > 0 {
		a.PrevSecretUntil = fromMS(until)
	}
	a.RegistrationDigest = m["registration"]
	a.IDTokenAlg = m["id_token_alg"]
	a.RequirePAR, a.RequireDPoP, a.FAPI2 = m["require_par"] == "1", m["require_dpop"] == "1", m["fapi2"] == "1"
	a.AuthMethod, a.JWKS, a.JWKSURI = m["auth_method"], m["jwks"], m["jwks_uri"]
	if v := m["post_logout_redirect_uris"]; v != "" {
		if err := json.Unmarshal([]byte(v), &a.PostLogoutRedirectURIs); err != nil {
			return nil, fmt.Errorf("decode app %s post-logout redirect URIs: %w", a.ClientID, err)
		}
	}
	return a, nil
}

// jsonList is a list as a hash field keeps it.
func jsonList(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func uniq(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// AppArgs are the arguments of lua/app.lua.
type AppArgs struct {
	ClientID string `json:"client_id"`
	Op       string `json:"op"`
	// Fields are what an update sets (field → value), with "detail"
	// for its audit event.
	Fields map[string]string `json:"fields,omitempty"`
	// Expect are fields and the values they must have for the update to
	// happen (optimistic concurrency for lifecycle steps and rotations).
	Expect   map[string]string `json:"expect,omitempty"`
	Now      Millis            `json:"now"`
	Actor    Actor             `json:"actor"`
	AuditMax int64             `json:"audit_max"`
}

// AppResult is the answer of lua/app.lua.
type AppResult struct {
	verdict
	Gen int64 `json:"gen"`
	// Field is the expected field that did not match (outcome refused).
	Field string `json:"field,omitempty"`
}

var appScript = newScript[AppArgs, AppResult]("app", false)

// changeApp runs lua/app.lua and tells every instance of the change.
func (s *Store) changeApp(ctx context.Context, clientID, op string, by Actor, fields map[string]string) (*AppResult, error) {
	return s.changeAppIf(ctx, clientID, op, by, fields, nil)
}

// errStale is a lifecycle step or rotation whose expected state was gone
// by the time the script ran: another change came first.
var errStale = fmt.Errorf("%w: the app changed meanwhile; try again", ErrConflict)

// changeAppIf is changeApp for an update that must find the fields of
// expect as given; otherwise it changes nothing and returns an error
// wrapping ErrConflict.
func (s *Store) changeAppIf(ctx context.Context, clientID, op string, by Actor, fields, expect map[string]string) (*AppResult, error) {
	res, err := appScript.run(ctx, s.rdb, appKeys(clientID), AppArgs{ClientID: clientID, Op: op, Fields: fields,
		Expect: expect, Now: MillisOf(s.now()), Actor: by, AuditMax: s.Transitions().auditMax})
	if err != nil {
		return nil, fmt.Errorf("change app: %w", err)
	}
	if err := res.check("app", OutcomeOK, OutcomeAlready, OutcomeMissing, OutcomeRefused); err != nil {
		return nil, err
	}
	switch res.Outcome {
	case OutcomeMissing:
		return nil, ErrNotFound
	case OutcomeRefused:
		return nil, errStale
	}
	if res.Outcome == OutcomeOK {
		// A new app is in no instance's cache (a missing one is never
		// cached): announcing it would only make every instance drop, late,
		// an entry it has just loaded.
		if op != "create" {
			if err := s.appChanged(ctx, clientID); err != nil {
				return nil, err
			}
		}
		detail := map[string]string{"disable": "disabled", "enable": "enabled", "update": fields["detail"], "create": fields["detail"]}[op]
		switch op {
		case "revoke-all":
			detail = fmt.Sprintf("every connection revoked (generation %d)", res.Gen)
		case "delete":
			detail = fmt.Sprintf("deleted; every connection revoked (generation %d)", res.Gen)
		}
		s.observe(Event{Type: EventApp, ClientID: clientID, Actor: by, Detail: detail})
	}
	return res, nil
}

// SetAppDisabled disables or enables an app. A disabled app can start no
// flow, exchange or refresh nothing, and its tokens are refused while it
// stays disabled. Every instance's app cache hears of the change over
// pub/sub.
func (s *Store) SetAppDisabled(ctx context.Context, clientID string, disabled bool, by Actor) error {
	op := "enable"
	if disabled {
		op = "disable"
	}
	_, err := s.changeApp(ctx, clientID, op, by, nil)
	return err
}

// AppUpdate is a change to an app's registration; a nil field is left as
// it is. RedirectURIs and Scopes replace the lists whole; AddRedirectURIs
// and RemoveRedirectURIs change the list as it is (after RedirectURIs).
// The profile's fields are pointers for the same reason: "" clears one.
type AppUpdate struct {
	Name                                *string
	RedirectURIs                        []string
	AddRedirectURIs, RemoveRedirectURIs []string
	Scopes                              []string
	RequirePKCE                         *bool

	Description, Publisher, Homepage, PrivacyPolicy, Terms, SupportEmail *string
	// Logo is the fingerprint of a logo SetAppLogo stored; "" removes it.
	Logo *string
	// TestMerchants replaces the app's test merchants (ids);
	// AddTestMerchants and RemoveTestMerchants change them as they are.
	TestMerchants                         []string
	AddTestMerchants, RemoveTestMerchants []string
	// IDTokenAlg sets the ID token signing algorithm (one of
	// IDTokenAlgs; "" for the default).
	IDTokenAlg *string
	// PostLogoutRedirectURIs replaces the post-logout redirect URIs whole;
	// an empty, non-nil list removes them all.
	PostLogoutRedirectURIs []string
	// RequirePAR, RequireDPoP and FAPI2 turn the app's switches on or off.
	RequirePAR, RequireDPoP, FAPI2 *bool
	// AuthMethod sets the client authentication method ("" for the
	// secret, AuthPrivateKeyJWT); JWKS and JWKSURI set where its keys are
	// ("" clears one). The result is checked whole (ValidateSecurity).
	AuthMethod, JWKS, JWKSURI *string
}

// UpdateApp changes an app's registration and profile, with CreateApp's
// rules, and returns the app as it is now. Editing never widens what
// merchants granted: a new scope applies to new approvals only, a removed
// redirect URI is refused from the next request on, on every instance
// (the change is published), and a removed scope is dropped from a
// connection's tokens at its next refresh. Nothing is written when the
// update is invalid, nor when every setting it names is as it is (no
// audit event either).
func (s *Store) UpdateApp(ctx context.Context, clientID string, u AppUpdate, catalogue []string, by Actor) (*App, error) {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	spec := AppSpec{Name: a.Name, RedirectURIs: a.RedirectURIs, Scopes: a.Scopes, Public: a.Public,
		RequirePKCE: a.RequirePKCE, FirstParty: a.FirstParty, IDTokenAlg: a.IDTokenAlg,
		PostLogoutRedirectURIs: a.PostLogoutRedirectURIs, Security: a.Security()}
	fields := map[string]string{}
	// given: some setting was named; changed: the parts whose value
	// differs from the app's, the only ones audited. Naming a setting as
	// it is (the CLI's `app update --require-par` on an app that has it)
	// writes nothing.
	given := false
	var changed []string
	note := func(part string, differs bool) {
		given = true
		if differs {
			changed = append(changed, part)
		}
	}
	if u.Name != nil {
		spec.Name = *u.Name
		fields["name"] = strings.TrimSpace(*u.Name)
		note("name", fields["name"] != a.Name)
	}
	if u.RedirectURIs != nil || u.AddRedirectURIs != nil || u.RemoveRedirectURIs != nil {
		uris := slices.Clone(a.RedirectURIs)
		if u.RedirectURIs != nil {
			uris = slices.Clone(u.RedirectURIs)
		}
		for _, r := range u.RemoveRedirectURIs {
			if !slices.Contains(uris, r) {
				return nil, fmt.Errorf("%w: %q is not one of the app's redirect URIs", ErrInvalid, r)
			}
			uris = slices.DeleteFunc(uris, func(v string) bool { return v == r })
		}
		uris = uniq(append(uris, u.AddRedirectURIs...))
		spec.RedirectURIs = uris
		fields["redirect_uris"] = jsonList(uris)
		note("redirect URIs", !slices.Equal(uris, a.RedirectURIs))
	}
	if u.Scopes != nil {
		spec.Scopes = u.Scopes
		fields["scopes"] = strings.Join(uniq(u.Scopes), " ")
		note("scopes", !sameSet(u.Scopes, a.Scopes))
	}
	if u.RequirePKCE != nil {
		if a.Public && !*u.RequirePKCE {
			return nil, fmt.Errorf("%w: a public app always requires PKCE", ErrInvalid)
		}
		spec.RequirePKCE = *u.RequirePKCE
		fields["require_pkce"] = boolField(*u.RequirePKCE)
		note("PKCE rule", *u.RequirePKCE != a.RequirePKCE)
	}
	if u.IDTokenAlg != nil {
		spec.IDTokenAlg = *u.IDTokenAlg
		fields["id_token_alg"] = *u.IDTokenAlg
		note("ID token algorithm", *u.IDTokenAlg != a.IDTokenAlg)
	}
	if u.PostLogoutRedirectURIs != nil {
		spec.PostLogoutRedirectURIs = u.PostLogoutRedirectURIs
		fields["post_logout_redirect_uris"] = jsonList(uniq(u.PostLogoutRedirectURIs))
		note("post-logout redirect URIs", !slices.Equal(uniq(u.PostLogoutRedirectURIs), a.PostLogoutRedirectURIs))
	}
	if sec, ok := u.security(a); ok {
		jwks, err := ValidateSecurity(sec, a.Public, a.FirstParty)
		if err != nil {
			return nil, err
		}
		spec.Security = sec
		b := *a
		b.setSecurity(sec, jwks)
		for k, v := range securityFields(&b) {
			fields[k] = v
		}
		note("security", !maps.Equal(securityFields(&b), securityFields(a)))
	}
	profile := a.Profile
	profileChanged := false
	for _, f := range []struct {
		v   *string
		dst *string
	}{{u.Description, &profile.Description}, {u.Publisher, &profile.Publisher}, {u.Homepage, &profile.Homepage},
		{u.PrivacyPolicy, &profile.PrivacyPolicy}, {u.Terms, &profile.Terms}, {u.SupportEmail, &profile.SupportEmail},
		{u.Logo, &profile.Logo}} {
		if f.v != nil {
			*f.dst, profileChanged = *f.v, true
		}
	}
	if profileChanged {
		if profile, err = profile.normalize(); err != nil {
			return nil, err
		}
		for k, v := range map[string]string{"description": profile.Description, "publisher": profile.Publisher,
			"homepage": profile.Homepage, "privacy_url": profile.PrivacyPolicy, "terms_url": profile.Terms,
			"support_email": profile.SupportEmail, "logo": profile.Logo} {
			fields[k] = v
		}
		note("profile", profile != a.Profile)
	}
	if u.TestMerchants != nil || u.AddTestMerchants != nil || u.RemoveTestMerchants != nil {
		tm := slices.Clone(a.TestMerchants)
		if u.TestMerchants != nil {
			tm = slices.Clone(u.TestMerchants)
		}
		tm = slices.DeleteFunc(uniq(append(tm, u.AddTestMerchants...)), func(v string) bool {
			return slices.Contains(u.RemoveTestMerchants, v)
		})
		if len(tm) > MaxTestMerchants {
			return nil, fmt.Errorf("%w: an app has at most %d test merchants", ErrInvalid, MaxTestMerchants)
		}
		fields["test_merchants"] = jsonList(tm)
		note("test merchants", !slices.Equal(tm, a.TestMerchants))
	}
	if !given {
		return nil, fmt.Errorf("%w: nothing to change", ErrInvalid)
	}
	if err := validateSpec(spec, catalogue); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return a, nil
	}
	fields["detail"] = "updated: " + strings.Join(changed, ", ")
	if _, err := s.changeApp(ctx, clientID, "update", by, fields); err != nil {
		return nil, err
	}
	if old := a.Profile.Logo; profileChanged && old != "" && old != profile.Logo {
		// The app no longer names it: a logo it dropped is not served on.
		_ = s.rdb.Del(ctx, logoKey(clientID, old)).Err()
	}
	return s.GetApp(ctx, clientID)
}

// MaxTestMerchants bounds an app's test merchants.
const MaxTestMerchants = 100

// DeleteApp removes an app: from this moment its client id is unknown to
// every check on every instance and every connection it had is revoked
// (an app-wide revocation, whose clean-up runs in the background). The
// record stays behind as a tombstone that reads as no app.
func (s *Store) DeleteApp(ctx context.Context, clientID string, by Actor) (*Revocation, error) {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return nil, err
	}
	res, err := s.changeApp(ctx, clientID, "delete", by, nil)
	if err != nil {
		return nil, err
	}
	if err := s.rdb.ZRem(ctx, appsIndexKey, appsMember(a)).Err(); err != nil {
		return nil, fmt.Errorf("remove app from the index: %w", err)
	}
	if a.Owner != "" {
		if err := s.rdb.ZRem(ctx, developerAppsKey(a.Owner), appsMember(a)).Err(); err != nil {
			return nil, fmt.Errorf("remove app from its developer's index: %w", err)
		}
	}
	if a.Profile.Logo != "" {
		_ = s.rdb.Del(ctx, logoKey(clientID, a.Profile.Logo)).Err()
	}
	r, err := s.AppRevocation(ctx, clientID)
	if err != nil {
		return &Revocation{ClientID: clientID, Generation: res.Gen, By: by}, nil
	}
	return r, nil
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ProfileField names a field of an app's profile, for Changes.
type ProfileField int

// The profile's fields.
const (
	FieldDescription ProfileField = iota
	FieldPublisher
	FieldHomepage
	FieldPrivacyPolicy
	FieldTerms
	FieldSupportEmail
)

// Changes is the update that gives the app spec's name, redirect URIs,
// scopes, ID token algorithm (compared as the one signed with: "" is
// AlgRS256) and post-logout redirect URIs (none when spec has none) and
// the profile fields named in fields, holding only the parts that differ
// from what the app has (compared as the store keeps them: trimmed, the
// email normalised); ok is false when none does. An edit
// that replaces a registration whole (a form, an RFC 7592 PUT) goes
// through it, so the audit trail names what changed, and an edit that
// changes nothing writes nothing.
func (a *App) Changes(spec AppSpec, fields ...ProfileField) (u AppUpdate, ok bool) {
	if spec.Name != a.Name {
		u.Name, ok = &spec.Name, true
	}
	if !slices.Equal(spec.RedirectURIs, a.RedirectURIs) {
		u.RedirectURIs, ok = spec.RedirectURIs, true
	}
	if !sameSet(spec.Scopes, a.Scopes) {
		u.Scopes, ok = spec.Scopes, true
	}
	if want := (&App{IDTokenAlg: spec.IDTokenAlg, FAPI2: a.FAPI2}).IDTokenSigningAlg(); want != a.IDTokenSigningAlg() {
		alg := spec.IDTokenAlg
		u.IDTokenAlg, ok = &alg, true
	}
	if uris := uniq(spec.PostLogoutRedirectURIs); !slices.Equal(uris, a.PostLogoutRedirectURIs) {
		u.PostLogoutRedirectURIs, ok = uris, true
	}
	p := spec.Profile
	p.Description, p.Publisher = strings.TrimSpace(p.Description), strings.TrimSpace(p.Publisher)
	p.SupportEmail = NormalizeEmail(p.SupportEmail)
	all := map[ProfileField]struct {
		want, have string
		dst        **string
	}{
		FieldDescription:   {p.Description, a.Profile.Description, &u.Description},
		FieldPublisher:     {p.Publisher, a.Profile.Publisher, &u.Publisher},
		FieldHomepage:      {p.Homepage, a.Profile.Homepage, &u.Homepage},
		FieldPrivacyPolicy: {p.PrivacyPolicy, a.Profile.PrivacyPolicy, &u.PrivacyPolicy},
		FieldTerms:         {p.Terms, a.Profile.Terms, &u.Terms},
		FieldSupportEmail:  {p.SupportEmail, a.Profile.SupportEmail, &u.SupportEmail},
	}
	for _, f := range fields {
		if c := all[f]; c.want != c.have {
			v := c.want
			*c.dst, ok = &v, true
		}
	}
	return u, ok
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}
