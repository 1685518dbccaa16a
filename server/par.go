package server

import (
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// Pushed authorization requests (RFC 9126). Its rules:
//   - POST /oauth/par, a form, with the client authentication of the
//     token endpoint (a secret, private_key_jwt, or a public app's
//     client_id alone);
//   - the parameters are those of an authorization request and are
//     checked by the same rules (flow_authorize.go's checkAuthorize), with
//     the redirect URI one of the app's registered ones; a refusal is
//     JSON (RFC 6749 §5.2), status 400, and stores nothing;
//   - no parameter is repeated, and the request holds no request_uri;
//   - a DPoP proof (its htu the PAR endpoint) binds the code to its key,
//     as dpop_jkt does; both together must name the same key;
//   - the answer is 201 with a request_uri
//     (urn:ietf:params:oauth:request_uri:…, 256 random bits, kept only as
//     a digest) and expires_in (par.lifetime, 60 s): it must reach
//     /apps/authorize within that time, with the app's client_id, and
//     starts at most one code (store/lua/par.lua);
//   - an app with require_pushed_authorization_requests (or fapi2), or
//     every app when par.require is set, is refused any authorization
//     request that was not pushed.

// parPath is the PAR endpoint.
const parPath = "/oauth/par"

// pushed is the PAR endpoint's answer (RFC 9126 §2.2).
type pushed struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// pushAuthorization is POST /oauth/par.
func (s *Server) pushAuthorization(c *gin.Context) {
	tr, oe := parseTokenRequest(c.Request, false)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	ctx := c.Request.Context()
	app, oe := s.authenticateClient(ctx, tr)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	q := tr.form
	// The client's credentials are not part of the request it pushes.
	for _, k := range []string{"client_secret", "client_assertion", "client_assertion_type"} {
		q.Del(k)
	}
	for k, v := range q {
		if len(v) > 1 {
			writeOAuth(c, apierror.Request("parameter "+k+" is repeated"))
			return
		}
		if !utf8.ValidString(k) {
			writeOAuth(c, apierror.Request("a parameter name is not valid UTF-8"))
			return
		}
	}
	if q.Has("request_uri") {
		writeOAuth(c, apierror.Request("a pushed authorization request cannot carry request_uri"))
		return
	}
	q.Set("client_id", app.ClientID)
	// A DPoP proof at PAR binds the code to its key (RFC 9449 §10.1),
	// as dpop_jkt does; when both come they must name the same key.
	if len(c.Request.Header.Values("DPoP")) > 0 {
		jkt, oe := s.tokenProof(c, app)
		if oe != nil {
			writeOAuth(c, oe)
			return
		}
		if q.Has("dpop_jkt") && q.Get("dpop_jkt") != jkt {
			writeOAuth(c, apierror.New(apierror.InvalidDPoPProof, "dpop_jkt is not the thumbprint of the DPoP proof's key"))
			return
		}
		q.Set("dpop_jkt", jkt)
	}
	if !app.AllowsRedirect(q.Get("redirect_uri")) {
		writeOAuth(c, apierror.Request("redirect_uri is missing or not one of the app's registered redirect URIs"))
		return
	}
	if _, e := s.checkAuthorize(ctx, q, app); e != nil {
		writeOAuth(c, e)
		return
	}
	uri, err := s.store.PushAuthorization(ctx, app.ClientID, q.Encode(), s.cfg.PAR.Lifetime)
	if err != nil {
		s.log.ErrorContext(ctx, "push authorization request", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	s.log.InfoContext(ctx, "authorization request pushed", "client_id", app.ClientID)
	apierror.NoStore(c.Writer.Header())
	c.JSON(http.StatusCreated, pushed{RequestURI: uri, ExpiresIn: int64(s.cfg.PAR.Lifetime.Seconds())})
}
