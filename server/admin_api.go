package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/resource"
	"github.com/enlace-oauth/enlace/store"
)

// The admin JSON API under /admin/api/, authenticated by admin API keys
// (`enlace admin key create`) sent as bearer tokens.

const (
	defaultPage = 50
	maxPage     = 200
	keyActor    = "admin_actor"
	// adminRealm names the admin API in its challenges, apart from the
	// resources' "enlace".
	adminRealm = "enlace-admin"
)

func (s *Server) apiUnavailable(c *gin.Context, what string, err error) {
	s.log.ErrorContext(c.Request.Context(), what, "err", err)
	writeOAuth(c, apierror.Unavailable())
}

func (s *Server) adminKeyAuth(c *gin.Context) {
	tok, ok := resource.BearerToken(c.Request)
	if !ok {
		e := apierror.New(apierror.InvalidToken, "an admin API key is required as a bearer token")
		e.Anonymous, e.Realm = true, adminRealm
		writeBearer(c, e)
		return
	}
	key, err := s.store.AuthenticateAdminKey(c.Request.Context(), tok)
	if errors.Is(err, store.ErrNotFound) {
		e := apierror.New(apierror.InvalidToken, "the admin API key is not valid")
		e.Realm = adminRealm
		writeBearer(c, e)
		return
	}
	if err != nil {
		s.apiUnavailable(c, "authenticate admin key", err)
		return
	}
	c.Set(keyActor, store.ActorAdminKey(key.Name))
	apierror.NoStore(c.Writer.Header())
	c.Next()
}

// actor is who calls the admin API: its key.
func actor(c *gin.Context) store.Actor {
	a, _ := c.Value(keyActor).(store.Actor)
	return a
}

// page reads cursor, offset and limit; ok is false after a 400 was sent.
func page(c *gin.Context) (p store.Page, ok bool) {
	p.Limit, p.Cursor = defaultPage, c.Query("cursor")
	var err error
	if v := c.Query("offset"); v != "" {
		if p.Offset, err = strconv.Atoi(v); err != nil || p.Offset < 0 || p.Offset > store.MaxOffset {
			writeOAuth(c, apierror.Request(fmt.Sprintf("offset must be an integer from 0 to %d; page further with cursor", store.MaxOffset)))
			return p, false
		}
	}
	if v := c.Query("limit"); v != "" {
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 || p.Limit > maxPage {
			writeOAuth(c, apierror.Request("limit must be an integer from 1 to 200"))
			return p, false
		}
	}
	if p.Cursor != "" && p.Offset > 0 {
		writeOAuth(c, apierror.Request("give cursor or offset, not both"))
		return p, false
	}
	return p, true
}

// paged is the shape of every list answer: next_cursor pages on at the
// cost of a page; next_offset is kept for offset paging, up to its bound.
func paged(data any, total int, p store.Page, n int, next string) gin.H {
	h := gin.H{"data": data, "total": total, "offset": p.Offset, "next_offset": nil, "next_cursor": nil}
	if next != "" {
		h["next_cursor"] = next
		if p.Cursor == "" && p.Offset+n <= store.MaxOffset {
			h["next_offset"] = p.Offset + n
		}
	}
	return h
}

// listFailed answers a listing's error: a bad cursor is the caller's.
func (s *Server) listFailed(c *gin.Context, what string, err error) {
	if errors.Is(err, store.ErrInvalid) {
		writeOAuth(c, apierror.Request("cursor is not one this server gave (use next_cursor)"))
		return
	}
	s.apiUnavailable(c, what, err)
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func appJSON(a *store.App, connections int) gin.H {
	h := gin.H{"client_id": a.ClientID, "name": a.Name, "redirect_uris": a.RedirectURIs, "scopes": a.Scopes,
		"disabled": a.Disabled, "created_at": timeOrNil(a.CreatedAt), "connections": connections,
		"generation": a.Generation, "all_revoked_at": timeOrNil(a.RevokedAllAt),
		"status": a.Status, "owner": nil}
	if a.Owner != "" {
		h["owner"] = a.Owner
	}
	for k, v := range profileJSON(a.Profile) {
		h[k] = v
	}
	return h
}

// profileJSON is an app's profile under the names the admin API and the
// CLI use for it.
func profileJSON(p store.Profile) map[string]string {
	return map[string]string{"description": p.Description, "publisher": p.Publisher, "homepage": p.Homepage,
		"privacy_policy": p.PrivacyPolicy, "terms": p.Terms, "support_email": p.SupportEmail, "logo": p.Logo}
}

// AccountView names an account by id and email.
type AccountView struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// AppView is an app as the admin API's GET apps/{id} answers it and
// `enlace app show --json` prints it: its registration, lifecycle and
// profile, and when its previous secret stops, but never a secret or a
// digest of one.
type AppView struct {
	ClientID string          `json:"client_id"`
	Name     string          `json:"name"`
	Status   store.AppStatus `json:"status"`
	// Suspended is a disabled app, at whatever status.
	Suspended   bool `json:"suspended"`
	Public      bool `json:"public"`
	RequirePKCE bool `json:"require_pkce"`
	FirstParty  bool `json:"first_party"`
	// Owner is the developer who owns the app, nil for an operator's.
	Owner         *AccountView  `json:"owner"`
	Description   string        `json:"description"`
	Publisher     string        `json:"publisher"`
	Homepage      string        `json:"homepage"`
	PrivacyPolicy string        `json:"privacy_policy"`
	Terms         string        `json:"terms"`
	SupportEmail  string        `json:"support_email"`
	Logo          string        `json:"logo"`
	RedirectURIs  []string      `json:"redirect_uris"`
	Scopes        []string      `json:"scopes"`
	TestMerchants []AccountView `json:"test_merchants"`
	ReviewNote    string        `json:"review_note"`
	// PreviousSecretExpiresAt is when the secret the last rotation
	// replaced stops authenticating; nil when none still works.
	PreviousSecretExpiresAt any   `json:"previous_secret_expires_at"`
	CreatedAt               any   `json:"created_at"`
	Generation              int64 `json:"generation"`
	// Webhook is the app's endpoint, nil when it has none.
	Webhook *WebhookView `json:"webhook"`
	// IDTokenSignedResponseAlg is the algorithm the app's ID tokens are
	// signed with (the default, RS256, included).
	IDTokenSignedResponseAlg string `json:"id_token_signed_response_alg"`
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser back; [] when none.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	// RequirePushedAuthorizationRequests and DPoPBoundAccessTokens are the
	// rules in force, under their RFC 9126 and RFC 9449 names: true too
	// when FAPI2 (the FAPI 2.0 Security Profile) turns them on without
	// their own switches.
	RequirePushedAuthorizationRequests bool `json:"require_pushed_authorization_requests"`
	DPoPBoundAccessTokens              bool `json:"dpop_bound_access_tokens"`
	FAPI2                              bool `json:"fapi2"`
	// TokenEndpointAuthMethod is how the app authenticates, as RFC 7591
	// names it: none (a public app), client_secret_basic (its secret,
	// sent either way) or private_key_jwt.
	TokenEndpointAuthMethod string `json:"token_endpoint_auth_method"`
	// JWKS is a private_key_jwt app's registered JWK Set (public keys), null
	// when it has none; JWKSURI where its keys are fetched instead, "" when
	// none.
	JWKS    json.RawMessage `json:"jwks"`
	JWKSURI string          `json:"jwks_uri"`
}

// WebhookView is an app's webhook endpoint as the admin API and the CLI
// show it (never a secret).
type WebhookView struct {
	URL string `json:"url"`
	// State is active, failing (since FailingSince) or disabled (at
	// DisabledAt, for failing too long).
	State        string `json:"state"`
	FailingSince any    `json:"failing_since"`
	DisabledAt   any    `json:"disabled_at"`
	// PreviousSecretExpiresAt is when the signing secret the last rotation
	// replaced stops signing; nil when it does not.
	PreviousSecretExpiresAt any `json:"previous_secret_expires_at"`
}

// NewWebhookView is w at now; nil when there is no endpoint.
func NewWebhookView(w store.Webhook, now time.Time) *WebhookView {
	if !w.Configured() {
		return nil
	}
	v := &WebhookView{URL: w.URL, State: "active", FailingSince: timeOrNil(w.FailingSince),
		DisabledAt: timeOrNil(w.DisabledAt)}
	switch {
	case !w.DisabledAt.IsZero():
		v.State = "disabled"
	case !w.FailingSince.IsZero():
		v.State = "failing"
	}
	if w.Rotating(now) {
		v.PreviousSecretExpiresAt = timeOrNil(w.PrevUntil)
	}
	return v
}

// NewAppView is a as the admin API answers it at now, with the emails of
// its owner and test merchants (an id without one is shown with "").
func NewAppView(a *store.App, now time.Time, ownerEmail string, merchantEmails map[string]string) AppView {
	v := AppView{ClientID: a.ClientID, Name: a.Name, Status: a.Status, Suspended: a.Disabled, Public: a.Public,
		RequirePKCE: a.RequirePKCE, FirstParty: a.FirstParty, Description: a.Profile.Description,
		Publisher: a.Profile.Publisher, Homepage: a.Profile.Homepage, PrivacyPolicy: a.Profile.PrivacyPolicy,
		Terms: a.Profile.Terms, SupportEmail: a.Profile.SupportEmail, Logo: a.Profile.Logo,
		RedirectURIs: a.RedirectURIs, Scopes: a.Scopes, TestMerchants: []AccountView{}, ReviewNote: a.ReviewNote,
		CreatedAt: timeOrNil(a.CreatedAt), Generation: a.Generation}
	if a.Owner != "" {
		v.Owner = &AccountView{ID: a.Owner, Email: ownerEmail}
	}
	for _, id := range a.TestMerchants {
		v.TestMerchants = append(v.TestMerchants, AccountView{ID: id, Email: merchantEmails[id]})
	}
	if a.PrevSecretDigest != "" && now.Before(a.PrevSecretUntil) {
		v.PreviousSecretExpiresAt = timeOrNil(a.PrevSecretUntil)
	}
	v.Webhook = NewWebhookView(a.Webhook, now)
	v.IDTokenSignedResponseAlg = a.IDTokenSigningAlg()
	v.PostLogoutRedirectURIs = append([]string{}, a.PostLogoutRedirectURIs...)
	v.RequirePushedAuthorizationRequests, v.DPoPBoundAccessTokens, v.FAPI2 = a.PARRequired(), a.DPoPRequired(), a.FAPI2
	v.TokenEndpointAuthMethod, v.JWKSURI = a.AuthMethodName(), a.JWKSURI
	if a.JWKS != "" {
		v.JWKS = json.RawMessage(a.JWKS)
	}
	return v
}

// AppViewer is what reading an AppView takes of the store.
type AppViewer interface {
	DeveloperEmails(ctx context.Context, ids []string) (map[string]string, error)
	AccountEmails(ctx context.Context, merchantIDs, adminIDs []string) (map[string]string, map[string]string, error)
}

// ReadAppView names a's owner and test merchants (two pipelined reads)
// and returns its AppView at now.
func ReadAppView(ctx context.Context, st AppViewer, a *store.App, now time.Time) (AppView, error) {
	owners, err := st.DeveloperEmails(ctx, []string{a.Owner})
	if err != nil {
		return AppView{}, err
	}
	merchants, _, err := st.AccountEmails(ctx, a.TestMerchants, nil)
	if err != nil {
		return AppView{}, err
	}
	return NewAppView(a, now, owners[a.Owner], merchants), nil
}

// RevocationView is the clean-up of an app-wide revocation as the admin
// API answers it and `enlace app revocation --json` prints it.
type RevocationView struct {
	ClientID   string      `json:"client_id"`
	Generation int64       `json:"generation"`
	By         store.Actor `json:"by"`
	StartedAt  any         `json:"started_at"`
	// State is "running" or "done".
	State      string `json:"state"`
	Shard      int    `json:"shard"`
	Shards     int    `json:"shards"`
	Revoked    int    `json:"revoked"`
	FinishedAt any    `json:"finished_at"`
}

// NewRevocationView is r as the admin API answers it.
func NewRevocationView(r *store.Revocation) RevocationView {
	state := "running"
	if r.Done {
		state = "done"
	}
	return RevocationView{ClientID: r.ClientID, Generation: r.Generation, By: r.By, StartedAt: timeOrNil(r.StartedAt),
		State: state, Shard: r.Shard, Shards: store.Shards, Revoked: r.Revoked, FinishedAt: timeOrNil(r.FinishedAt)}
}

func connectionJSON(c *store.Connection) gin.H {
	return gin.H{"id": c.ID, "client_id": c.ClientID, "merchant_id": c.MerchantID, "scopes": c.Scopes,
		"status": c.Status, "created_at": timeOrNil(c.CreatedAt), "last_used": timeOrNil(c.LastUsed),
		"revoked_at": timeOrNil(c.RevokedAt), "revoked_by": c.RevokedBy, "resources": resourcesOrAll(c.Resources)}
}

func (s *Server) apiApps(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	apps, err := s.store.ListApps(ctx, p)
	if err != nil {
		s.listFailed(c, "list apps", err)
		return
	}
	counts, err := s.store.CountConnections(ctx, apps.Apps)
	if err != nil {
		s.apiUnavailable(c, "count connections", err)
		return
	}
	out := make([]gin.H, len(apps.Apps))
	for i, a := range apps.Apps {
		out[i] = appJSON(a, counts[a.ClientID])
	}
	c.JSON(http.StatusOK, paged(out, apps.Total, p, len(out), apps.Next))
}

func (s *Server) apiSetDisabled(disabled bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.Request.Context()
		err := s.store.SetAppDisabled(ctx, c.Param("id"), disabled, actor(c))
		if errors.Is(err, store.ErrNotFound) {
			writeOAuth(c, apierror.New(apierror.NotFound, "no app with this client id"))
			return
		}
		if err != nil {
			s.apiUnavailable(c, "set app disabled", err)
			return
		}
		a, err := s.store.GetApp(ctx, c.Param("id"))
		if err != nil {
			s.apiUnavailable(c, "get app", err)
			return
		}
		s.log.InfoContext(c.Request.Context(), "app disabled changed", "client_id", a.ClientID, "disabled", disabled, "by", actor(c))
		c.JSON(http.StatusOK, appJSON(a, 0))
	}
}

// apiRevokeAppConnections revokes all of an app's connections at once and
// answers 202: the per-connection clean-up follows in the background, and
// the Location tells how far it is.
func (s *Server) apiRevokeAppConnections(c *gin.Context) {
	ctx := c.Request.Context()
	r, err := s.store.RevokeAllConnections(ctx, c.Param("id"), actor(c))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no app with this client id"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "revoke app connections", err)
		return
	}
	s.log.InfoContext(ctx, "app connections revoked", "client_id", r.ClientID, "generation", r.Generation, "by", actor(c))
	c.Header("Location", "/admin/api/apps/"+url.PathEscape(r.ClientID)+"/revocation")
	c.JSON(http.StatusAccepted, NewRevocationView(r))
}

func (s *Server) apiAppRevocation(c *gin.Context) {
	r, err := s.store.AppRevocation(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "this app's connections were never revoked as a whole"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "read app revocation", err)
		return
	}
	c.JSON(http.StatusOK, NewRevocationView(r))
}

func (s *Server) apiMerchants(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	ms, err := s.store.ListMerchants(c.Request.Context(), p)
	if err != nil {
		s.listFailed(c, "list merchants", err)
		return
	}
	out := make([]gin.H, len(ms.Accounts))
	for i, m := range ms.Accounts {
		out[i] = gin.H{"id": m.ID, "email": m.Email, "name": m.Name, "created_at": timeOrNil(m.CreatedAt)}
	}
	c.JSON(http.StatusOK, paged(out, ms.Total, p, len(out), ms.Next))
}

func (s *Server) apiConnections(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	conns, err := s.store.ListConnections(c.Request.Context(),
		store.ConnectionFilter{ClientID: c.Query("app"), MerchantID: c.Query("merchant")}, p)
	if err != nil {
		s.listFailed(c, "list connections", err)
		return
	}
	out := make([]gin.H, len(conns.Connections))
	for i, cn := range conns.Connections {
		out[i] = connectionJSON(cn)
	}
	c.JSON(http.StatusOK, paged(out, conns.Total, p, len(out), conns.Next))
}

func (s *Server) apiConnection(c *gin.Context) {
	cn, err := s.store.GetConnection(c.Request.Context(), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no connection with this id"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "get connection", err)
		return
	}
	c.JSON(http.StatusOK, connectionJSON(cn))
}

func (s *Server) apiRevokeConnection(c *gin.Context) {
	err := s.store.RevokeConnection(c.Request.Context(), c.Param("id"), actor(c))
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no connection with this id"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "revoke connection", err)
		return
	}
	s.log.InfoContext(c.Request.Context(), "connection revoked", "connection_id", c.Param("id"), "by", actor(c))
	c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "status": store.StatusRevoked})
}

func (s *Server) apiAudit(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	if p.Offset > 0 {
		writeOAuth(c, apierror.Request("the audit trail pages with cursor (or before), not offset"))
		return
	}
	// cursor and before are the same: an event id, the last one read.
	before := c.Query("before")
	if p.Cursor != "" {
		before = p.Cursor
	}
	events, next, err := s.store.ListAudit(c.Request.Context(), store.AuditFilter{
		ClientID: c.Query("app"), MerchantID: c.Query("merchant"), ConnectionID: c.Query("connection"),
	}, before, p.Limit)
	if errors.Is(err, store.ErrInvalid) {
		writeOAuth(c, apierror.Request("before (or cursor) must be an event id from next_cursor"))
		return
	}
	if err != nil {
		s.apiUnavailable(c, "list audit", err)
		return
	}
	out := make([]gin.H, len(events))
	for i, e := range events {
		out[i] = gin.H{"id": e.ID, "time": timeOrNil(e.Time), "type": e.Type, "connection_id": e.ConnectionID,
			"client_id": e.ClientID, "merchant_id": e.MerchantID, "actor": e.Actor, "detail": e.Detail,
			"token_id": e.TokenID}
	}
	h := gin.H{"data": out, "next_before": nil, "next_cursor": nil}
	if next != "" {
		h["next_before"], h["next_cursor"] = next, next
	}
	c.JSON(http.StatusOK, h)
}

// maxAdminBody bounds an admin API request's JSON body.
const maxAdminBody = 64 << 10

// readAdminJSON decodes the request's JSON body into v, strictly (no
// duplicate or unknown keys, valid UTF-8); an empty body leaves v as it
// is when emptyOK. ok is false after a 400 was sent.
func readAdminJSON(c *gin.Context, v any, emptyOK bool) bool {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxAdminBody))
	if err != nil {
		writeOAuth(c, apierror.Request("the body is unreadable or larger than 64 KiB"))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if emptyOK {
			return true
		}
		writeOAuth(c, apierror.Request("a JSON object is required"))
		return false
	}
	if err := strictJSON(body); err != nil {
		writeOAuth(c, apierror.Request(err.Error()))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeOAuth(c, apierror.Request("the body must be a JSON object with the documented fields: "+err.Error()))
		return false
	}
	return true
}

func appNotFound(c *gin.Context) {
	writeOAuth(c, apierror.New(apierror.NotFound, "no app with this client id"))
}

// apiApp answers an app as `enlace app show --json` prints it.
func (s *Server) apiApp(c *gin.Context) {
	ctx := c.Request.Context()
	a, err := s.store.GetApp(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		appNotFound(c)
		return
	}
	if err != nil {
		s.apiUnavailable(c, "get app", err)
		return
	}
	s.writeAppView(c, a)
}

func (s *Server) writeAppView(c *gin.Context, a *store.App) {
	v, err := ReadAppView(c.Request.Context(), s.store, a, s.store.Now())
	if err != nil {
		s.apiUnavailable(c, "read app", err)
		return
	}
	c.JSON(http.StatusOK, v)
}

// reviewRequest is the body of POST apps/{id}/review.
type reviewRequest struct {
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
}

// apiReviewApp is an admin's decision on an app in review: 200 with the
// app, 400 for a decision that is not approve or reject (or a rejection
// without a reason), 409 when the app is not in review.
func (s *Server) apiReviewApp(c *gin.Context) {
	var req reviewRequest
	if !readAdminJSON(c, &req, false) {
		return
	}
	if req.Decision != "approve" && req.Decision != "reject" {
		writeOAuth(c, apierror.Request(`decision must be "approve" or "reject"`))
		return
	}
	if req.Decision == "approve" && req.Reason != "" {
		writeOAuth(c, apierror.Request("a reason goes with a rejection only"))
		return
	}
	ctx := c.Request.Context()
	id := c.Param("id")
	err := s.store.ReviewApp(ctx, id, req.Decision == "approve", req.Reason, actor(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		appNotFound(c)
		return
	case errors.Is(err, store.ErrInvalid):
		writeOAuth(c, apierror.Request("a rejection needs a reason (at most 1000 characters)"))
		return
	case errors.Is(err, store.ErrConflict):
		// ErrWrongStatus, or another change that came first.
		writeOAuth(c, apierror.Request("the app is not in review: only an app its developer submitted can be reviewed").
			WithStatus(http.StatusConflict))
		return
	case err != nil:
		s.apiUnavailable(c, "review app", err)
		return
	}
	s.log.InfoContext(ctx, "app reviewed", "client_id", id, "decision", req.Decision, "by", actor(c))
	a, err := s.store.GetApp(ctx, id)
	if err != nil {
		s.apiUnavailable(c, "get app", err)
		return
	}
	s.writeAppView(c, a)
}

// rotateRequest is the body of POST apps/{id}/rotate-secret; an empty
// body rotates with the default overlap.
type rotateRequest struct {
	Overlap string `json:"overlap"`
}

// apiRotateSecret gives an app a new secret, answered only here; the one
// it had keeps working for the overlap.
func (s *Server) apiRotateSecret(c *gin.Context) {
	var req rotateRequest
	if !readAdminJSON(c, &req, true) {
		return
	}
	var overlap time.Duration
	if req.Overlap != "" {
		var err error
		if overlap, err = time.ParseDuration(req.Overlap); err != nil || overlap <= 0 || overlap > store.MaxSecretOverlap {
			writeOAuth(c, apierror.Request(`overlap must be a duration such as "24h", positive and at most 168h`))
			return
		}
	}
	ctx := c.Request.Context()
	secret, a, err := s.store.RotateSecret(ctx, c.Param("id"), overlap, actor(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		appNotFound(c)
		return
	case errors.Is(err, store.ErrInvalid):
		writeOAuth(c, apierror.Request("a public app has no secret to rotate"))
		return
	case errors.Is(err, store.ErrConflict):
		writeOAuth(c, apierror.Request("the app changed meanwhile; try again").WithStatus(http.StatusConflict))
		return
	case err != nil:
		s.apiUnavailable(c, "rotate secret", err)
		return
	}
	s.log.InfoContext(ctx, "app secret rotated", "client_id", a.ClientID, "previous_until", a.PrevSecretUntil, "by", actor(c))
	c.JSON(http.StatusOK, gin.H{"client_id": a.ClientID, "client_secret": secret,
		"previous_secret_expires_at": timeOrNil(a.PrevSecretUntil)})
}

func (s *Server) apiDevelopers(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	ds, err := s.store.ListDevelopers(c.Request.Context(), p)
	if err != nil {
		s.listFailed(c, "list developers", err)
		return
	}
	out := make([]gin.H, len(ds.Accounts))
	for i, d := range ds.Accounts {
		out[i] = gin.H{"id": d.ID, "email": d.Email, "name": d.Name, "created_at": timeOrNil(d.CreatedAt)}
	}
	c.JSON(http.StatusOK, paged(out, ds.Total, p, len(out), ds.Next))
}

// apiDeliveries lists an app's webhook deliveries, newest first:
// {"deliveries": [DeliveryView…], "next_cursor", "total"}, paged with
// cursor (a next_cursor) and limit (at most 200).
func (s *Server) apiDeliveries(c *gin.Context) {
	p, ok := page(c)
	if !ok {
		return
	}
	if p.Offset > 0 {
		writeOAuth(c, apierror.Request("deliveries page with cursor, not offset"))
		return
	}
	ctx := c.Request.Context()
	a, err := s.store.GetApp(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		appNotFound(c)
		return
	}
	if err != nil {
		s.apiUnavailable(c, "get app", err)
		return
	}
	dp, err := s.store.Deliveries(ctx, a.ClientID, p.Cursor, p.Limit)
	if err != nil {
		s.listFailed(c, "list deliveries", err)
		return
	}
	views := make([]DeliveryView, 0, len(dp.Deliveries))
	for _, d := range dp.Deliveries {
		views = append(views, NewDeliveryView(d))
	}
	h := gin.H{"deliveries": views, "next_cursor": nil, "total": dp.Total}
	if dp.Next != "" {
		h["next_cursor"] = dp.Next
	}
	c.JSON(http.StatusOK, h)
}

// apiResendDelivery queues one of an app's deliveries again, now, with
// the same webhook-id, and answers 202 with it: 404 for an unknown app or
// delivery, 409 while an attempt is in flight or when the app's endpoint
// delivers nothing (removed, or disabled for failing).
func (s *Server) apiResendDelivery(c *gin.Context) {
	ctx := c.Request.Context()
	a, err := s.store.GetApp(ctx, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		appNotFound(c)
		return
	}
	if err != nil {
		s.apiUnavailable(c, "get app", err)
		return
	}
	id := c.Param("delivery_id")
	_, err = s.store.GetDelivery(ctx, a.ClientID, id)
	if err == nil && !a.Webhook.Active() {
		writeOAuth(c, apierror.Request("the app's webhook is not active (removed, or disabled for failing): set its URL again first").
			WithStatus(http.StatusConflict))
		return
	}
	if err == nil {
		err = s.store.ResendDelivery(ctx, a.ClientID, id, s.deliveries)
	}
	var d *store.Delivery
	if err == nil {
		d, err = s.store.GetDelivery(ctx, a.ClientID, id)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeOAuth(c, apierror.New(apierror.NotFound, "the app has no delivery with this id"))
		return
	case errors.Is(err, store.ErrConflict):
		writeOAuth(c, apierror.Request("an attempt of this delivery is in flight; try again when it ends").WithStatus(http.StatusConflict))
		return
	case err != nil:
		s.apiUnavailable(c, "resend delivery", err)
		return
	}
	s.log.InfoContext(ctx, "webhook delivery resent", "client_id", a.ClientID, "delivery", id, "by", actor(c))
	c.JSON(http.StatusAccepted, NewDeliveryView(d))
}

// resourcesOrAll is a connection's resource grant as the admin API shows
// it: scope → ids for the scopes limited to some, {} when every scope
// reaches all.
func resourcesOrAll(g store.ResourceGrant) store.ResourceGrant {
	if g == nil {
		return store.ResourceGrant{}
	}
	return g
}
