package resource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/dpop"
	"github.com/enlace-oauth/enlace/store"
)

// VerifyRequest checks the access token of a request to a resource: a
// bearer token in "Authorization: Bearer", or a DPoP-bound one (RFC 9449
// §7) in "Authorization: DPoP" with a DPoP proof of its key whose htm and
// htu are the request's and whose ath is the token's, used once. A bound
// token sent as Bearer is refused (it is worthless to whoever copied it);
// so is a bearer token sent as DPoP. The refusal is what to answer, with
// apierror.WriteBearer; cause is the store's failure behind a 503 (never
// holding the token), for the caller's logs.
func (v *Verifier) VerifyRequest(r *http.Request) (info *store.TokenInfo, refusal *apierror.Error, cause error) {
	scheme, tok := authorization(r)
	ctx := r.Context()
	switch {
	case tok == "":
		e := errNoToken()
		e.DPoPAlgs = dpop.AlgsHeader()
		return nil, e, nil
	case strings.EqualFold(scheme, "Bearer"):
		info, err := v.check(ctx, v.tokens.LookupAccess, tok)
		if err != nil {
			return nil, v.lookupRefusal(err, false), unavailable(err)
		}
		if info.JKT != "" {
			return nil, v.refuse(apierror.InvalidToken,
				"the access token is DPoP-bound: send it as Authorization: DPoP, with a DPoP proof of its key"), nil
		}
		return info, nil, nil
	}
	if v.opts.BaseURL == "" {
		return nil, v.refuse(apierror.InvalidToken, "this resource server takes no DPoP-bound tokens (its BaseURL is not configured)"), nil
	}
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return nil, v.refuse(apierror.InvalidDPoPProof, "a DPoP request needs one DPoP header with a proof"), nil
	}
	p, err := v.opts.DPoP.Check(ctx, proofs[0], dpop.Request{Method: r.Method, URL: v.requestURL(r), AccessToken: tok})
	if err != nil {
		return nil, v.proofRefusal(ctx, err), unavailable(err)
	}
	info, fresh, err := v.tokens.LookupAccessProof(ctx, tok, p.JKT, p.JTI, v.opts.DPoP.Window())
	var app *store.App
	if err == nil {
		app, err = v.live(ctx, info)
	}
	switch {
	case err != nil:
		return nil, v.lookupRefusal(err, true), unavailable(err)
	case info.JKT == "":
		return nil, v.refuse(apierror.InvalidToken, "the access token is a bearer token: send it as Authorization: Bearer"), nil
	case info.JKT != p.JKT:
		return nil, v.refuse(apierror.InvalidToken, "the access token is bound to another key than the DPoP proof's"), nil
	case !fresh:
		return nil, v.refuse(apierror.InvalidDPoPProof, "this DPoP proof was used before; sign a new one for each request"), nil
	case app.FAPI2 && p.Alg == "RS256":
		return nil, v.refuse(apierror.InvalidDPoPProof, "this app's DPoP proofs must be signed with ES256, PS256 or EdDSA (FAPI 2.0)"), nil
	}
	return info, nil, nil
}

// OfferNonce puts the current DPoP nonce in h (DPoP-Nonce) on the answer
// to a request VerifyRequest let through with a DPoP-bound token, when
// the verifier's Checker requires nonces: the client signs its next proof
// with it instead of being refused once per nonce step (RFC 9449 §8.2,
// §9). It writes nothing for a bearer token, without nonces, or when the
// nonce cannot be read (the client is then told on its next refusal).
func (v *Verifier) OfferNonce(ctx context.Context, h http.Header, info *store.TokenInfo) {
	if info == nil || info.JKT == "" {
		return
	}
	if n, err := v.opts.DPoP.Nonce(ctx); err == nil && n != "" {
		h.Set("DPoP-Nonce", n)
	}
}

// Challenge makes e's challenge DPoP's when the token it refuses is
// DPoP-bound (RFC 9449 §7.1), as for an insufficient scope.
func Challenge(e *apierror.Error, info *store.TokenInfo) {
	if info != nil && info.JKT != "" {
		e.DPoP, e.DPoPAlgs = true, dpop.AlgsHeader()
	}
}

// authorization splits the Authorization header into its scheme (Bearer
// or DPoP, any case) and token; tok is "" for anything else.
func authorization(r *http.Request) (scheme, tok string) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	if !ok || (!strings.EqualFold(scheme, "Bearer") && !strings.EqualFold(scheme, "DPoP")) {
		return "", ""
	}
	return scheme, tok
}

// requestURL is the URL a client addressed, without query: the htu its
// proof must name.
func (v *Verifier) requestURL(r *http.Request) string {
	return v.opts.BaseURL + r.URL.EscapedPath()
}

func (v *Verifier) refuse(code apierror.Code, desc string) *apierror.Error {
	e := apierror.New(code, desc)
	e.Status, e.DPoP, e.DPoPAlgs = http.StatusUnauthorized, true, dpop.AlgsHeader()
	return e
}

// proofRefusal answers a proof that failed its check: use_dpop_nonce with
// the nonce to send, invalid_dpop_proof, or 503 when the nonces could not
// be read.
func (v *Verifier) proofRefusal(ctx context.Context, err error) *apierror.Error {
	e := v.opts.DPoP.Refusal(ctx, err)
	if e == nil {
		return apierror.New(apierror.TemporarilyUnavailable, "the token could not be checked; try again shortly")
	}
	e.Status, e.DPoP, e.DPoPAlgs = http.StatusUnauthorized, true, dpop.AlgsHeader()
	return e
}

func (v *Verifier) lookupRefusal(err error, isDPoP bool) *apierror.Error {
	if errors.Is(err, ErrInactive) || errors.Is(err, store.ErrNotFound) {
		if isDPoP {
			return v.refuse(apierror.InvalidToken, "the access token is unknown, expired or revoked")
		}
		return apierror.New(apierror.InvalidToken, "the access token is unknown, expired or revoked")
	}
	return apierror.New(apierror.TemporarilyUnavailable, "the token could not be checked; try again shortly")
}

// unavailable is err when it is a failure to reach the store, nil for a
// refusal.
func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrInactive) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if _, ok := dpop.AsError(err); ok {
		return nil
	}
	return fmt.Errorf("verify access token: %w", err)
}
