package server

import (
	"fmt"
	"net/http"
	"net/url"
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
//   - a public app's pushes are limited per client address
//     (par.public_per_address a minute; 429 with Retry-After);
//   - an app with require_pushed_authorization_requests (or fapi2), or
//     every app when par.require is set, is refused any authorization
//     request that was not pushed.

// parPath is the PAR endpoint.
const parPath = "/oauth/par"

// pushedParams are the parameters a pushed request keeps: those of an
// authorization request enlace reads (request and registration too, so
// that they are refused as at the authorization endpoint).
var pushedParams = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
	"code_challenge_method", "nonce", "prompt", "max_age", "login_hint", "id_token_hint", "authorization_details",
	"dpop_jkt", "response_mode", "request", "request_uri", "registration"}

// maxPushed bounds a pushed request as stored.
const maxPushed = 16 << 10

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
	proof, oe := s.checkProof(c)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	app, oe := s.authenticate(ctx, tr)
	if oe != nil {
		writeOAuth(c, oe)
		return
	}
	if app.Public {
		wait, err := s.store.PushAttempt(ctx, c.ClientIP(), s.cfg.PAR.PublicPerAddress)
		if err != nil {
			s.log.ErrorContext(ctx, "push limit", "err", err)
			writeOAuth(c, apierror.Unavailable())
			return
		}
		if wait > 0 {
			e := apierror.New(apierror.InvalidRequest, "too many pushed requests from this address; wait before pushing again")
			e.Status, e.RetryAfter = http.StatusTooManyRequests, wait
			writeOAuth(c, e)
			return
		}
	}
	// Only an authorization request's parameters are kept (others are
	// ignored, RFC 6749 §3.1): the client's credentials are not part of
	// the request it pushes, and nobody fills Redis with the rest.
	q := url.Values{}
	form, err := tr.formValues()
	if err != nil {
		writeOAuth(c, apierror.Request("the form body is malformed"))
		return
	}
	for _, k := range pushedParams {
		if v, ok := form[k]; ok {
			q[k] = v
		}
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
	if proof != nil {
		if q.Has("dpop_jkt") && q.Get("dpop_jkt") != proof.JKT {
			writeOAuth(c, apierror.New(apierror.InvalidDPoPProof, "dpop_jkt is not the thumbprint of the DPoP proof's key"))
			return
		}
		q.Set("dpop_jkt", proof.JKT)
	}
	if !app.AllowsRedirect(q.Get("redirect_uri")) {
		writeOAuth(c, apierror.Request("redirect_uri is missing or not one of the app's registered redirect URIs"))
		return
	}
	if _, e := s.checkAuthorize(ctx, q, app); e != nil {
		writeOAuth(c, e)
		return
	}
	params := q.Encode()
	if len(params) > maxPushed {
		writeOAuth(c, apierror.Request(fmt.Sprintf("the pushed request is larger than %d bytes", maxPushed)))
		return
	}
	if proof != nil {
		if _, oe := s.bindProof(ctx, app, proof); oe != nil {
			writeOAuth(c, oe)
			return
		}
	}
	if oe := s.claimClient(ctx, tr); oe != nil {
		writeOAuth(c, oe)
		return
	}
	uri, err := s.store.PushAuthorization(ctx, app.ClientID, params, s.cfg.PAR.Lifetime)
	if err != nil {
		s.log.ErrorContext(ctx, "push authorization request", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	s.log.InfoContext(ctx, "authorization request pushed", "client_id", app.ClientID)
	apierror.NoStore(c.Writer.Header())
	s.offerNonce(c)
	c.JSON(http.StatusCreated, pushed{RequestURI: uri, ExpiresIn: int64(s.cfg.PAR.Lifetime.Seconds())})
}
