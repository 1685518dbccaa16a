package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// appLogo serves an app's logo: the PNG the store re-encoded from the
// upload, from enlace's own origin, so the pages that show it load nothing
// from elsewhere. The address names the image's fingerprint, which changes
// with the image, so it can be cached for a year. Anything unknown is a
// 404.
func (s *Server) appLogo(c *gin.Context) {
	fp := c.Param("fingerprint")
	if !isFingerprint(fp) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no such logo"))
		return
	}
	png, err := s.store.LogoPNG(c.Request.Context(), c.Param("client_id"), fp)
	if errors.Is(err, store.ErrNotFound) {
		writeOAuth(c, apierror.New(apierror.NotFound, "no such logo"))
		return
	}
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "read logo", "err", err)
		writeOAuth(c, apierror.New(apierror.ServerError, "the logo cannot be read now"))
		return
	}
	h := c.Writer.Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	// An image opened on its own runs nothing, whatever it holds.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; sandbox")
	c.Data(http.StatusOK, "image/png", png)
}

// isFingerprint reports whether v can be a logo's fingerprint (16
// lowercase hex digits, store.SetAppLogo), so that nothing else reaches
// Redis as part of a key.
func isFingerprint(v string) bool {
	if len(v) != 16 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if (v[i] < '0' || v[i] > '9') && (v[i] < 'a' || v[i] > 'f') {
			return false
		}
	}
	return true
}
