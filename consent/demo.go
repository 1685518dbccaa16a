package consent

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// DemoApp is the registration of the built-in demo client, which exists
// only in the embedded zero-setup mode.
type DemoApp struct {
	ClientID     string
	ClientSecret string
	RedirectURI  string
	Scopes       []string
}

func (h *Handler) registerDemo(r gin.IRoutes) {
	r.GET("/demo/callback", h.demoCallback)
}

// demoCallback shows the code the demo app received.
func (h *Handler) demoCallback(c *gin.Context) {
	h.render(c, http.StatusOK, "demo_callback", "demo_title", nil, map[string]any{
		"Code": c.Query("code"), "State": c.Query("state"), "Error": c.Query("error"),
	})
}
