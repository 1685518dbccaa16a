package server

import (
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/dpop"
	"github.com/enlace-oauth/enlace/store"
)

// metadata is the RFC 8414 authorization server metadata, and with
// OpenID Connect on, the OpenID Provider configuration too (idtoken.go):
// one document at both addresses. The issuer is the configured one,
// character for character, as the iss parameter is.
func (s *Server) metadata(c *gin.Context) {
	iss := s.cfg.Issuer
	auth := []string{"client_secret_basic", "client_secret_post", store.AuthPrivateKeyJWT, "none"}
	c.Header("Cache-Control", "public, max-age=3600")
	h := gin.H{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + "/apps/authorize",
		"token_endpoint":                                iss + "/oauth/token",
		"revocation_endpoint":                           iss + "/oauth/revoke",
		"introspection_endpoint":                        iss + "/oauth/introspect",
		"registration_endpoint":                         iss + registerPath,
		"scopes_supported":                              s.cfg.Scopes.Names(),
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":              []string{"S256"},
		"token_endpoint_auth_methods_supported":         auth,
		"revocation_endpoint_auth_methods_supported":    auth,
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", store.AuthPrivateKeyJWT},
		// RFC 9126, RFC 9449, RFC 7523: pushed requests, DPoP, client
		// assertions, each an app's switch (or, for PAR, the platform's).
		"pushed_authorization_request_endpoint":                    iss + parPath,
		"require_pushed_authorization_requests":                    s.cfg.PAR.Require,
		"dpop_signing_alg_values_supported":                        dpop.Algs(),
		"token_endpoint_auth_signing_alg_values_supported":         store.AssertionAlgs(),
		"revocation_endpoint_auth_signing_alg_values_supported":    store.AssertionAlgs(),
		"introspection_endpoint_auth_signing_alg_values_supported": store.AssertionAlgs(),
		"authorization_response_iss_parameter_supported":           true,
		"ui_locales_supported":                                     []string{"es", "en"},
		"authorization_details_types_supported":                    s.boundResourceTypes(),
	}
	if s.keys != nil {
		s.oidcMetadata(h)
	}
	c.JSON(http.StatusOK, h)
}

// boundResourceTypes are the resource types some scope of the catalogue
// is bound to: the RFC 9396 authorization_details types enlace takes.
func (s *Server) boundResourceTypes() []string {
	out := []string{}
	for _, t := range s.cfg.ResourceTypes {
		if slices.ContainsFunc(s.cfg.Scopes, func(sc store.Scope) bool { return sc.Resource == t.Name }) {
			out = append(out, t.Name)
		}
	}
	return out
}
