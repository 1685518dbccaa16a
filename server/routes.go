package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/consent"
)

// pages are the browser pages the table routes to.
type pages struct {
	merchant *consent.MerchantPages
	admin    *consent.AdminPages
	dev      *consent.DeveloperPages
	static   *assets
}

// logoUploadRoute is a route whose body may exceed maxBody: it bounds its
// own (consent.MaxLogoRequest) and says so on a page. The other is
// resourcesRoute (admin_resources.go).
const logoUploadRoute = "/developers/apps/:client_id/logo"

// routes is enlace's whole HTTP surface. Nothing else registers a route,
// except the Extensions a binary passes in Options: the demo client
// (/demo, the embedded mode of `enlace serve`) and enlace-bench's floor
// (/_floor/, only in the enlace-bench binary).
func (s *Server) routes(e *gin.Engine, p pages, metrics bool) {
	m, a, d := p.merchant, p.admin, p.dev

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
	e.GET("/connections/:id/resources", m.NarrowPage)
	e.POST("/connections/:id/resources", m.Narrow)

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
	// An app's webhook deliveries; a resend changes nothing already done.
	e.GET("/admin/apps/:id/deliveries", a.Deliveries)
	e.POST("/admin/apps/:id/deliveries/:delivery_id/resend", a.Resend)
	e.GET("/admin/developers", a.Developers)
	e.POST("/admin/developers/invite", a.Invite)
	e.GET("/admin/merchants", a.Merchants)
	e.GET("/admin/connections", a.Connections)
	e.GET("/admin/connections/:id/revoke", a.ConfirmRevoke)
	e.POST("/admin/connections/:id/revoke", a.Revoke)
	e.GET("/admin/audit", a.Audit)

	// The developer portal (its own session; every app page answers its
	// owner only). Posts that show a credential (a new app's secret, a
	// rotated one, a sandbox merchant's password, an initial access
	// token) show it on their answer, once.
	e.GET("/developers", d.Home)
	e.POST("/developers/login", d.Login)
	e.POST("/developers/logout", d.Logout)
	e.GET("/developers/signup", d.SignupPage) // ?invite=TOKEN
	e.POST("/developers/signup", d.Signup)
	e.POST("/developers/tokens", d.CreateToken)
	e.GET("/developers/apps/new", d.NewAppPage)
	e.POST("/developers/apps", d.CreateApp)
	e.GET("/developers/apps/:client_id", d.App)
	e.GET("/developers/apps/:client_id/edit", d.EditPage)
	e.POST("/developers/apps/:client_id/edit", d.Edit)
	e.POST(logoUploadRoute, d.Logo)
	e.POST("/developers/apps/:client_id/test-merchants", d.AddTestMerchant)
	e.POST("/developers/apps/:client_id/test-merchants/remove", d.RemoveTestMerchant)
	e.POST("/developers/apps/:client_id/sandbox", d.CreateSandbox)
	e.POST("/developers/apps/:client_id/submit", d.Submit)
	e.POST("/developers/apps/:client_id/rotate-secret", d.RotateSecret)
	e.POST("/developers/apps/:client_id/retire-secret", d.RetireSecret)
	e.GET("/developers/apps/:client_id/delete", d.ConfirmDelete)
	e.POST("/developers/apps/:client_id/delete", d.Delete)
	// The app's webhook (issue 16): its first endpoint's signing secret
	// and each rotated one are shown on the post's answer, once.
	e.POST("/developers/apps/:client_id/webhook", d.SetWebhook)
	e.GET("/developers/apps/:client_id/webhook/remove", d.ConfirmRemoveWebhook)
	e.POST("/developers/apps/:client_id/webhook/remove", d.RemoveWebhook)
	e.POST("/developers/apps/:client_id/webhook/rotate-secret", d.RotateWebhookSecret)
	e.POST("/developers/apps/:client_id/webhook/ping", d.Ping)
	e.GET("/developers/apps/:client_id/deliveries", d.Deliveries) // ?cursor=
	e.POST("/developers/apps/:client_id/deliveries/:id/resend", d.Resend)
	// Apps' logos, from enlace's own origin (logo.go).
	e.GET("/apps/:client_id/logo/:fingerprint", s.appLogo)

	// The token endpoint in its dialects (token.go), revocation and
	// introspection.
	e.POST("/oauth/access-token", s.tokenEndpoint(multivende))
	e.POST("/oauth/token", s.tokenEndpoint(rfc6749))
	e.POST("/auth/v1/token", s.tokenEndpoint(firstParty)) // the platform's own apps, Multinexo style
	e.POST("/oauth/revoke", s.revoke)
	e.POST("/oauth/introspect", s.introspect)
	e.POST(parPath, s.pushAuthorization) // pushed authorization requests (par.go)
	e.GET("/.well-known/oauth-authorization-server", s.metadata)

	// OpenID Connect (idtoken.go, userinfo.go, logout.go): discovery, the
	// signing keys, userinfo (GET and POST, Core §5.3.1) and RP-initiated
	// logout, whose confirmation is a page.
	e.GET(discoveryPath, s.discovery)
	e.GET(jwksPath, s.jwks)
	e.GET(userinfoPath, s.userinfo)
	e.POST(userinfoPath, s.userinfo)
	e.GET(endSessionPath, m.EndSession)
	e.POST(endSessionPath, m.EndSession)

	// Dynamic client registration (RFC 7591) with an initial access
	// token, and its management (RFC 7592) with the registration access
	// token it answered (registration.go).
	e.POST(registerPath, s.registerClient)
	e.GET(registerPath+"/:client_id", s.readRegistration)
	e.PUT(registerPath+"/:client_id", s.updateRegistration)
	e.DELETE(registerPath+"/:client_id", s.deleteRegistration)

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
	api.GET("/apps/:id/deliveries", s.apiDeliveries)
	api.POST("/apps/:id/deliveries/:delivery_id/resend", s.apiResendDelivery)
	api.GET("/merchants", s.apiMerchants)
	api.GET(resourcesRoute, s.apiResources) // admin_resources.go
	api.PUT(resourcesRoute, s.apiSetResources)
	api.GET("/developers", s.apiDevelopers)
	api.GET("/connections", s.apiConnections)
	api.GET("/connections/:id", s.apiConnection)
	api.DELETE("/connections/:id", s.apiRevokeConnection)
	api.PUT("/connections/:id/resources", s.apiNarrowResources)
	api.GET("/audit", s.apiAudit)

	// Operations.
	e.GET("/healthz", healthz)
	e.GET("/readyz", s.readyz)
	if metrics {
		e.GET("/metrics", gin.WrapH(s.metrics.Handler()))
	}
	e.GET("/static/*file", p.static.serve)

	// A browser gets a page, an API client the JSON error (errors.go).
	e.NoRoute(pageOr(m, http.StatusNotFound, notFound))
	e.NoMethod(pageOr(m, http.StatusMethodNotAllowed, methodNotAllowed))
}
