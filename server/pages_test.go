package server_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// TestStaticAssets: pages link fingerprinted assets, which are served with
// a one-year immutable cache; nothing comes from another host.
func TestStaticAssets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.browser().get("/login")
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`).FindAllStringSubmatch(p.body, -1)
	if len(links) < 2 {
		t.Fatalf("the page links %d static files:\n%s", len(links), p.body)
	}
	for _, l := range links {
		if !regexp.MustCompile(`\.[0-9a-f]{12}\.\w+$`).MatchString(l[1]) {
			t.Errorf("%s is not fingerprinted", l[1])
		}
		r := e.send(mustRequest(http.MethodGet, e.url+l[1]))
		if r.status != http.StatusOK || r.header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d %q", l[1], r.status, r.header.Get("Cache-Control"))
		}
	}
	css := e.send(mustRequest(http.MethodGet, e.url+"/static/enlace.css"))
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") ||
		strings.Contains(css.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("plain name: %d %v", css.status, css.header)
	}
	if r := e.send(mustRequest(http.MethodGet, e.url+"/static/nope.css")); r.status != http.StatusNotFound {
		t.Fatalf("unknown asset: %d", r.status)
	}
	if strings.Contains(css.raw, "http://") || strings.Contains(css.raw, "https://") || strings.Contains(css.raw, "@import") {
		t.Fatal("the stylesheet loads something from elsewhere")
	}
}

// TestEveryPageHasTheSwitcher: each page offers the other language, and the
// English pages have no Spanish left in them.
func TestEveryPageHasTheSwitcher(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	b := e.browser()
	b.loginAndConsentPage("/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode())
	for _, path := range []string{"/login", "/", "/connections", "/admin/login",
		"/apps/authorize?" + authorizeQuery(e.app.ClientID, appRedirect).Encode(),
		"/apps/authorize?client_id=nope"} {
		es := b.get(path)
		if !strings.Contains(es.body, `hreflang="en"`) || !strings.Contains(es.body, `lang="es"`) {
			t.Errorf("%s: no switcher to English", path)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		en := b.get(path + sep + "lang=en")
		for _, spanish := range []string{"Iniciar", "Inicia sesión", "Correo", "Contraseña", "Autorizar", "Cancelar",
			"Aplicaciones", "No pudimos", "Sesión iniciada"} {
			if strings.Contains(en.body, spanish) {
				t.Errorf("%s in English still says %q", path, spanish)
			}
		}
		b.get(path + sep + "lang=es")
	}
}
