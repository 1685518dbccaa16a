package server

import (
	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/consent"
)

// pages are the browser pages the table routes to.
type pages struct {
	merchant *consent.MerchantPages
	admin    *consent.AdminPages
	static   *assets
}

// routes is enlace's whole HTTP surface. Nothing else registers a route,
// except the Extensions a binary passes in Options: the demo client
// (/demo, the embedded mode of `enlace serve`) and enlace-bench's floor
// (/_floor/, only in the enlace-bench binary).
func (s *Server) routes(e *gin.Engine, p pages, metrics bool) {
	m, a := p.merchant, p.admin

	// The authorization endpoint, under the platform's name and the
	// Multinexo-style alias: the consent page, and the form it posts.
	for _, path := range []string{consent.AuthorizePath, consent.AuthorizeAlias} {
		e.GET(path, m.Authorize) // flow_authorize.go validates the request
		e.POST(path, m.Decide)
	}

	// Merchant pages.
	e.GET("/login", m.LoginPage)
	e.POST("/login", m.Login)
	e.POST("/logout", m.Logout)
	e.GET("/", m.Home)
	e.GET("/connections", m.Connections)
	e.GET("/connections/:id/revoke", m.ConfirmRevoke)
	e.POST("/connections/:id/revoke", m.Revoke)

	// Admin pages (their own session).
	e.GET("/admin/login", a.LoginPage)
	e.POST("/admin/login", a.Login)
	e.POST("/admin/logout", a.Logout)
	e.GET("/admin", a.Apps)
	// A destructive action's GET is its confirmation page; its POST acts
	// only when posted from that page.
	e.GET("/admin/apps/:id/disable", a.ConfirmDisable)
	e.POST("/admin/apps/:id/disable", a.SetDisabled(true))
	e.POST("/admin/apps/:id/enable", a.SetDisabled(false))
	e.GET("/admin/apps/:id/revoke-all", a.ConfirmRevokeAll)
	e.POST("/admin/apps/:id/revoke-all", a.RevokeAll)
	e.GET("/admin/apps/:id/approve", a.ConfirmApprove)
	e.POST("/admin/apps/:id/approve", a.Review(true))
	e.GET("/admin/apps/:id/reject", a.ConfirmReject)
	e.POST("/admin/apps/:id/reject", a.Review(false))
	e.GET("/admin/developers", a.Developers)
	e.POST("/admin/developers/invite", a.Invite)
	e.GET("/admin/merchants", a.Merchants)
	e.GET("/admin/connections", a.Connections)
	e.GET("/admin/connections/:id/revoke", a.ConfirmRevoke)
	e.POST("/admin/connections/:id/revoke", a.Revoke)
	e.GET("/admin/audit", a.Audit)

	// The token endpoint in its dialects (token.go), revocation and
	// introspection.
	e.POST("/oauth/access-token", s.tokenEndpoint(multivende))
	e.POST("/oauth/token", s.tokenEndpoint(rfc6749))
	e.POST("/auth/v1/token", s.tokenEndpoint(firstParty)) // the platform's own apps, Multinexo style
	e.POST("/oauth/revoke", s.revoke)
	e.POST("/oauth/introspect", s.introspect)
	e.GET("/.well-known/oauth-authorization-server", s.metadata)

	// Resources.
	e.GET("/api/d/info", s.info)
	e.POST("/v1/users", s.register)
	e.GET("/v1/users/:id", s.user)

	// The admin JSON API, by admin API key (admin_api.go).
	api := e.Group("/admin/api", s.adminKeyAuth)
	api.GET("/apps", s.apiApps)
	api.GET("/apps/:id", s.apiApp)
	api.POST("/apps/:id/review", s.apiReviewApp)
	api.POST("/apps/:id/rotate-secret", s.apiRotateSecret)
	api.POST("/apps/:id/disable", s.apiSetDisabled(true))
	api.POST("/apps/:id/enable", s.apiSetDisabled(false))
	api.DELETE("/apps/:id/connections", s.apiRevokeAppConnections)
	api.GET("/apps/:id/revocation", s.apiAppRevocation)
	api.GET("/merchants", s.apiMerchants)
	api.GET("/developers", s.apiDevelopers)
	api.GET("/connections", s.apiConnections)
	api.GET("/connections/:id", s.apiConnection)
	api.DELETE("/connections/:id", s.apiRevokeConnection)
	api.GET("/audit", s.apiAudit)

	// Operations.
	e.GET("/healthz", healthz)
	e.GET("/readyz", s.readyz)
	if metrics {
		e.GET("/metrics", gin.WrapH(s.metrics.Handler()))
	}
	e.GET("/static/*file", p.static.serve)

	e.NoRoute(notFound)
	e.NoMethod(methodNotAllowed)
}
