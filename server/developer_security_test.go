package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestDeveloperAppSecuritySettings: the edit form's Security fieldset —
// PAR, DPoP and FAPI 2.0 checkboxes, the client authentication, a JWK Set
// and a JWKS URI — sets the app's settings, shows them again and on the
// app's page; each refusal names the field in the page's language and
// writes nothing; a save that changes nothing writes nothing; a public
// app is offered only PAR and DPoP; the new-app form takes none of them.
func TestDeveloperAppSecuritySettings(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	b, _ := e.developer("seguridad@example.com")
	csrf := b.devCSRF()

	// The new-app form has no Security fieldset, and ignores one posted.
	if p := b.get("/developers/apps/new"); strings.Contains(p.body, `id="security"`) {
		t.Fatalf("the new-app form offers the security settings:\n%s", p.body)
	}
	f := appForm(csrf)
	f.Set("fapi2", "1")
	f.Set("require_par", "1")
	a, secret := e.createDevApp(b, f)
	if secret == "" || a.Security() != (store.Security{}) {
		t.Fatalf("the new app: %+v", a.Security())
	}
	base := "/developers/apps/" + a.ClientID

	edit := b.get(base + "/edit")
	body := html.UnescapeString(edit.body)
	for _, want := range []string{`<fieldset id="security">`, "<legend>Seguridad</legend>",
		`<input type="checkbox" id="require_par" name="require_par" value="1">`, "Exigir solicitudes de autorización enviadas antes (PAR)",
		`<input type="checkbox" id="require_dpop" name="require_dpop" value="1">`, "Exigir tokens ligados con DPoP",
		`id="fapi2" name="fapi2"`, "Perfil FAPI 2.0",
		"Activa PAR, PKCE con S256, DPoP, private_key_jwt, sin concesión por contraseña y códigos de 60 segundos.",
		`<select id="auth_method" name="auth_method">`, `<option value="" selected>Secreto del cliente`,
		`<option value="private_key_jwt">Aserción firmada (private_key_jwt)</option>`,
		`<textarea id="jwks" name="jwks"`, `<input id="jwks_uri" name="jwks_uri" type="url"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the edit form lacks %s:\n%s", want, edit.body)
		}
	}

	k := settingsKeys()
	jwks := settingsPublicJWKS(t)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(jwks), "", "    "); err != nil {
		t.Fatal(err)
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	post := func(path string, fields map[string]string) {
		t.Helper()
		f := appForm(csrf)
		for k, v := range fields {
			f.Set(k, v)
		}
		if p := b.post(path, f); p.status != http.StatusSeeOther || p.location != base+"?notice=updated" {
			t.Fatalf("edit %v: %d %s\n%s", fields, p.status, p.location, p.body)
		}
	}
	refusals := []struct {
		fields map[string]string
		want   string
	}{
		{with("fapi2", "1"), "El perfil FAPI 2.0 necesita autenticación del cliente con private_key_jwt"},
		{with("jwks", jwks), "Un conjunto de claves JWK o una URI del JWKS solo se usan con private_key_jwt"},
		{with("jwks_uri", "https://bodegas.example/jwks"), "solo se usan con private_key_jwt"},
		{with("auth_method", "private_key_jwt"), "private_key_jwt necesita las claves públicas de la app"},
		{with("auth_method", "private_key_jwt", "jwks", jwks, "jwks_uri", "https://bodegas.example/jwks"), "no ambas"},
		{with("auth_method", "private_key_jwt", "jwks", settingsJWKS(t, jose.JSONWebKey{Key: &k.rsa.PublicKey}, jose.JSONWebKey{Key: k.ec})),
			"La clave 2 del conjunto de claves JWK es privada o simétrica"},
		{with("auth_method", "private_key_jwt", "jwks", settingsJWKS(t, jose.JSONWebKey{Key: &k.rsa1024.PublicKey})),
			"El conjunto de claves JWK no es válido: debe ser un objeto JSON con 1 a 10 claves públicas"},
		{with("auth_method", "private_key_jwt", "jwks", `{"keys": [`), "El conjunto de claves JWK no es válido"},
		{with("auth_method", "private_key_jwt", "jwks_uri", "http://bodegas.example/jwks"),
			"La URI del JWKS http://bodegas.example/jwks no es válida"},
		{with("auth_method", "client_secret_jwt"), "La autenticación del cliente «client_secret_jwt» no está disponible"},
	}
	for _, r := range refusals {
		f := appForm(csrf)
		for k, v := range r.fields {
			f.Set(k, v)
		}
		e.refused(b, base+"/edit", f, http.StatusBadRequest, r.want)
	}
	// A refusal shows the form again as it was posted.
	f = appForm(csrf)
	f.Set("require_dpop", "1")
	f.Set("auth_method", "private_key_jwt")
	f.Set("jwks_uri", "http://bodegas.example/jwks")
	p := b.post(base+"/edit", f)
	for _, want := range []string{`id="require_dpop" name="require_dpop" value="1" checked`, `<option value="private_key_jwt" selected>`,
		`value="http://bodegas.example/jwks"`} {
		if p.status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(p.body), want) {
			t.Fatalf("the refused form lacks %s: %d\n%s", want, p.status, p.body)
		}
	}

	// PAR and private_key_jwt with a pasted set, indented: stored compact.
	post(base+"/edit", with("require_par", "1", "auth_method", "private_key_jwt", "jwks", pretty.String()))
	a = e.getApp(a.ClientID)
	if a.Security() != (store.Security{RequirePAR: true, AuthMethod: store.AuthPrivateKeyJWT, JWKS: jwks}) {
		t.Fatalf("after the edit: %+v", a.Security())
	}
	events, _, err := e.st.ListAudit(ctx, store.AuditFilter{ClientID: a.ClientID}, "", 1)
	if err != nil || len(events) != 1 || events[0].Detail != "updated: security" {
		t.Fatalf("the edit's audit event: %+v %v", events, err)
	}
	page := html.UnescapeString(b.get(base).body)
	for _, want := range []string{"Actualizada: ajustes de seguridad</td>", `<dd id="auth-method">Aserción firmada (private_key_jwt)</dd>`,
		`<code class="value">rsa-1</code> PS256`, `<code class="value">ec-1</code> ES256`,
		"<li>Se exigen solicitudes de autorización enviadas antes (PAR)</li>",
		"Esta app se autentica con private_key_jwt: el endpoint de tokens no le acepta un secreto."} {
		if !strings.Contains(page, want) {
			t.Fatalf("the app page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Se exigen tokens ligados con DPoP") || strings.Contains(page, `id="jwks-uri"`) {
		t.Fatalf("the app page shows a rule that is off:\n%s", page)
	}
	// The form shows them again; saved as shown, nothing is written.
	edit = b.get(base + "/edit")
	body = html.UnescapeString(edit.body)
	for _, want := range []string{`id="require_par" name="require_par" value="1" checked`, `<option value="private_key_jwt" selected>`,
		`"kid": "ec-1"`} {
		if !strings.Contains(body, want) {
			t.Fatalf("the edit form lacks %s:\n%s", want, edit.body)
		}
	}
	shown := regexp.MustCompile(`(?s)<textarea id="jwks"[^>]*>(.*?)</textarea>`).FindStringSubmatch(edit.body)
	if shown == nil {
		t.Fatal("no jwks textarea")
	}
	before := redistest.Snapshot(t, e.rdb)
	post(base+"/edit", with("require_par", "1", "auth_method", "private_key_jwt", "jwks", html.UnescapeString(shown[1])))
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	// FAPI 2.0 with the keys at a URI; the page names what it turns on.
	post(base+"/edit", with("fapi2", "1", "auth_method", "private_key_jwt", "jwks_uri", "https://bodegas.example/jwks"))
	if a = e.getApp(a.ClientID); a.Security() != (store.Security{FAPI2: true, AuthMethod: store.AuthPrivateKeyJWT, JWKSURI: "https://bodegas.example/jwks"}) {
		t.Fatalf("fapi2: %+v", a.Security())
	}
	page = html.UnescapeString(b.get(base).body)
	for _, want := range []string{"<li>Perfil FAPI 2.0: PAR, PKCE con S256, DPoP, private_key_jwt, sin concesión por contraseña, códigos de 60 segundos</li>", "<li>Se exigen tokens ligados con DPoP</li>",
		"<li>Se exigen solicitudes de autorización enviadas antes (PAR)</li>", `<code class="value" id="jwks-uri">https://bodegas.example/jwks</code>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the app page on fapi2 lacks %s:\n%s", want, page)
		}
	}
	// A form without them goes back to the defaults.
	post(base+"/edit", nil)
	if a = e.getApp(a.ClientID); a.Security() != (store.Security{}) {
		t.Fatalf("back to the defaults: %+v", a.Security())
	}
	if page := html.UnescapeString(b.get(base).body); !strings.Contains(page, "<li>Sin reglas además de las predeterminadas</li>") ||
		!strings.Contains(page, `<dd id="auth-method">Secreto del cliente`) || strings.Contains(page, `id="secret-pkj"`) {
		t.Fatalf("the app page with the defaults:\n%s", page)
	}

	// A public app: PAR and DPoP only.
	pub := appForm(csrf)
	pub.Set("name", "Bodegas Móvil")
	pub.Set("client_type", "public")
	if p := b.post("/developers/apps", pub); p.status != http.StatusSeeOther {
		t.Fatalf("create a public app: %d", p.status)
	} else {
		base = strings.TrimSuffix(p.location, "?notice=created")
	}
	edit = b.get(base + "/edit")
	if body := html.UnescapeString(edit.body); !strings.Contains(body, `id="require_dpop"`) || strings.Contains(body, `id="fapi2"`) ||
		strings.Contains(body, `id="auth_method"`) || !strings.Contains(body, "Una app pública no tiene secreto ni claves") {
		t.Fatalf("the public app's form:\n%s", edit.body)
	}
	f = appForm(csrf)
	f.Set("fapi2", "1")
	e.refused(b, base+"/edit", f, http.StatusBadRequest, "El perfil FAPI 2.0 es para apps confidenciales.")
	f = appForm(csrf)
	f.Set("auth_method", "private_key_jwt")
	f.Set("jwks", jwks)
	e.refused(b, base+"/edit", f, http.StatusBadRequest, "Una app pública no tiene claves con que firmar")
	f = appForm(csrf)
	f.Set("require_par", "1")
	f.Set("require_dpop", "1")
	if p := b.post(base+"/edit", f); p.status != http.StatusSeeOther {
		t.Fatalf("PAR and DPoP on a public app: %d\n%s", p.status, p.body)
	}
	id := strings.TrimPrefix(base, "/developers/apps/")
	if pa := e.getApp(id); !pa.RequirePAR || !pa.RequireDPoP || !pa.Public {
		t.Fatalf("the public app: %+v", pa.Security())
	}
	if page := html.UnescapeString(b.get(base).body); strings.Contains(page, `id="auth-method"`) ||
		!strings.Contains(page, "<li>Se exigen tokens ligados con DPoP</li>") {
		t.Fatalf("the public app's page:\n%s", page)
	}

	// In English (the choice sticks, so last).
	f = appForm(csrf)
	f.Set("fapi2", "1")
	e.refused(b, "/developers/apps/"+a.ClientID+"/edit?lang=en", f, http.StatusBadRequest,
		"The FAPI 2.0 profile needs private_key_jwt client authentication, with a JWK Set or a JWKS URI.")
	f = appForm(csrf)
	f.Set("auth_method", "private_key_jwt")
	f.Set("jwks", settingsJWKS(t, jose.JSONWebKey{Key: k.ec}))
	e.refused(b, "/developers/apps/"+a.ClientID+"/edit", f, http.StatusBadRequest,
		"Key 1 of the JWK Set is a private or symmetric key: paste only the public halves.")
	if p := b.get("/developers/apps/" + a.ClientID + "/edit"); !strings.Contains(p.body, "Require DPoP-bound tokens") ||
		!strings.Contains(p.body, "FAPI 2.0 profile") {
		t.Fatalf("the English form:\n%s", p.body)
	}
}
