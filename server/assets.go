package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// assets serves static/ from memory. Each file is also served under a
// fingerprinted name (name.<hash>.ext) that pages link to, so browsers can
// keep it for a year: a changed file gets a new name.
type assets struct {
	// links maps a file name to its fingerprinted address.
	links map[string]string
	files map[string]asset
}

type asset struct {
	body        []byte
	contentType string
	immutable   bool
}

func loadAssets(static fs.FS) (*assets, error) {
	a := &assets{links: map[string]string{}, files: map[string]asset{}}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ext := path.Ext(p)
		hashed := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:6]) + ext
		ct := mime.TypeByExtension(ext)
		if ct == "" {
			ct = "application/octet-stream"
		}
		a.links[p] = "/static/" + hashed
		a.files[p] = asset{body: body, contentType: ct}
		a.files[hashed] = asset{body: body, contentType: ct, immutable: true}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load static files: %w", err)
	}
	return a, nil
}

func (a *assets) serve(c *gin.Context) {
	f, ok := a.files[strings.TrimPrefix(c.Param("file"), "/")]
	if !ok {
		writeOAuth(c, apierror.New(apierror.NotFound, "no such file"))
		return
	}
	if f.immutable {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	c.Data(http.StatusOK, f.contentType, f.body)
}
