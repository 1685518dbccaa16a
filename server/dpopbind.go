package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/dpop"
	"github.com/enlace-oauth/enlace/store"
)

// DPoP at the token endpoint (RFC 9449 §5), in both dialects. Its rules:
//   - a request may carry one DPoP header; its proof (package dpop) must
//     name POST and the endpoint's URL under the issuer, no ath, an iat
//     within dpop.proof_max_age (and dpop.clock_skew ahead), and, with
//     dpop.require_nonce, a nonce enlace handed out: without one the
//     answer is use_dpop_nonce with the nonce in DPoP-Nonce;
//   - its jti is used once: a replay is refused on every instance
//     (store.ClaimProof) for as long as the proof would be accepted,
//     recorded only once the client is authenticated and the app's rules
//     hold, so that a refusal (a nonce asked for) spends nothing;
//   - on fapi2, no RS256 proof (FAPI 2.0 §5.4.1);
//   - the tokens it gets are bound to its key: token_type DPoP, the
//     key's thumbprint on the connection (cnf.jkt in introspection), and
//     a public app's refresh token is bound as well;
//   - an app that requires DPoP (require_dpop, or fapi2) gets nothing
//     without a proof.
// Every refusal is invalid_dpop_proof (400), and changes nothing.

// checkProof checks the DPoP proof of a token or PAR request, storing
// nothing: nil for a request without one.
func (s *Server) checkProof(c *gin.Context) (*dpop.Proof, *apierror.Error) {
	proofs := c.Request.Header.Values("DPoP")
	switch {
	case len(proofs) == 0:
		return nil, nil
	case len(proofs) > 1:
		return nil, apierror.New(apierror.InvalidDPoPProof, "send one DPoP header")
	}
	ctx := c.Request.Context()
	p, err := s.dpop.Check(ctx, proofs[0], dpop.Request{Method: http.MethodPost, URL: s.cfg.Issuer + c.Request.URL.Path})
	if err != nil {
		return nil, s.proofRefused(ctx, err)
	}
	return p, nil
}

// bindProof applies app's rules to the request's proof (nil: none) and
// claims its one use; it returns the key's thumbprint the tokens are
// bound to, "" for bearer tokens.
func (s *Server) bindProof(ctx context.Context, app *store.App, p *dpop.Proof) (string, *apierror.Error) {
	switch {
	case p == nil && app.DPoPRequired():
		return "", apierror.New(apierror.InvalidDPoPProof, "this app's tokens are DPoP-bound: send a DPoP proof")
	case p == nil:
		return "", nil
	case app.FAPI2 && p.Alg == "RS256":
		// FAPI 2.0 §5.4.1: no PKCS#1 v1.5 signatures.
		return "", apierror.New(apierror.InvalidDPoPProof, "this app's DPoP proofs must be signed with ES256, PS256 or EdDSA (FAPI 2.0)")
	}
	fresh, err := s.store.ClaimProof(ctx, p.JKT, p.JTI, s.dpop.Window())
	if err != nil {
		s.log.ErrorContext(ctx, "claim DPoP proof", "err", err)
		return "", apierror.Unavailable()
	}
	if !fresh {
		return "", apierror.New(apierror.InvalidDPoPProof, "this DPoP proof was used before; sign a new one for each request")
	}
	return p.JKT, nil
}

// proofRefused answers a proof that failed its check at the token or PAR
// endpoint.
func (s *Server) proofRefused(ctx context.Context, err error) *apierror.Error {
	if e := s.dpop.Refusal(ctx, err); e != nil {
		return e
	}
	s.log.ErrorContext(ctx, "check DPoP proof", "err", err)
	return apierror.Unavailable()
}

// offerNonce puts the current DPoP nonce on a success answer, when nonces
// are required, so the client's next proof can carry it (RFC 9449 §8.2).
func (s *Server) offerNonce(c *gin.Context) {
	n, err := s.dpop.Nonce(c.Request.Context())
	if err != nil {
		s.log.WarnContext(c.Request.Context(), "DPoP nonce", "err", err)
	}
	if n != "" {
		c.Header("DPoP-Nonce", n)
	}
}
