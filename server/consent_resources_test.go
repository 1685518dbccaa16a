package server_test

// The consent page's choice of resources (issue 17), over HTTP; in
// Chromium in browser_resources_test.go.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// stockScopes are the scopes of the warehouse tests' app: two bound to
// warehouses, one not.
var stockScopes = []string{"read:stocks", "write:stocks", "read:products"}

// resourceApp is an app asking for stockScopes, for a merchant with the
// warehouses W1 "Bodega Central" and W2 "Bodega Norte".
type resourceApp struct {
	e         *testEnv
	app       *store.App
	secret    string
	authorize string
}

func (e *testEnv) setWarehouses(rs ...store.Resource) {
	e.t.Helper()
	if _, err := e.st.SetResources(context.Background(), store.ResourceSet{MerchantID: e.merchant.ID, Type: "warehouse",
		Resources: rs, By: store.ActorAdminKey("platform")}, e.cfg.ResourceTypes); err != nil {
		e.t.Fatal(err)
	}
}

var (
	w1 = store.Resource{ID: "W1", Name: "Bodega Central"}
	w2 = store.Resource{ID: "W2", Name: "Bodega Norte"}
)

func newResourceApp(t *testing.T, redirect string) *resourceApp {
	t.Helper()
	e := newEnv(t)
	e.setWarehouses(w1, w2)
	app, secret, err := e.st.CreateApp(context.Background(), store.AppSpec{Name: "Bodegas al Día",
		RedirectURIs: []string{redirect}, Scopes: stockScopes}, e.cfg.Scopes.Names())
	if err != nil {
		t.Fatal(err)
	}
	q := authorizeQuery(app.ClientID, redirect)
	q.Set("scope", strings.Join(stockScopes, " "))
	return &resourceApp{e: e, app: app, secret: secret, authorize: "/apps/authorize?" + q.Encode()}
}

// post posts the consent form with the CSRF token of p and the fields.
func (b *browser) postConsent(authorize string, p page, fields url.Values) page {
	b.t.Helper()
	form := url.Values{"csrf_token": {csrfOf(b.t, p)}, "decision": {"approve"}}
	for k, v := range fields {
		form[k] = v
	}
	return b.post(authorize, form)
}

// codeOf is the code of an approval's redirect.
func codeOf(t *testing.T, p page) string {
	t.Helper()
	if p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.status, text(p.body))
	}
	u, _ := url.Parse(p.location)
	if u.Query().Get("code") == "" {
		t.Fatalf("no code in %s", p.location)
	}
	return u.Query().Get("code")
}

// mvExchange exchanges a code in the Multivende dialect.
func (ra *resourceApp) mvExchange(code string) response {
	ra.e.t.Helper()
	body, _ := json.Marshal(map[string]string{"client_id": ra.app.ClientID, "client_secret": ra.secret,
		"grant_type": "authorization_code", "code": code})
	r := ra.e.postToken("/oauth/access-token", "application/json", string(body))
	if r.status != http.StatusOK {
		ra.e.t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	return r
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var (
	fieldsetRe = regexp.MustCompile(`(?s)<fieldset class="resource-choice[^"]*" id="resources-([^"]+)".*?</fieldset>`)
	radioRe    = regexp.MustCompile(`<input type="radio" id="mode-(all|some)-[^"]+" name="resources_mode\.([^"]+)" value="(all|some)"( checked)?>`)
	resBoxRe   = regexp.MustCompile(`<input type="checkbox" id="res-[^"]+" name="resources\.([^"]+)" value="([^"]+)" data-label="[^"]*"( checked)?>`)
)

// choicesOf reads the page's choices: by scope, the checked mode and the
// ticked ids (in order), and every id offered.
func choicesOf(body string) (mode map[string]string, ticked, offered map[string][]string) {
	mode, ticked, offered = map[string]string{}, map[string][]string{}, map[string][]string{}
	for _, m := range radioRe.FindAllStringSubmatch(body, -1) {
		if m[4] != "" {
			mode[m[2]] = m[3]
		}
	}
	for _, m := range resBoxRe.FindAllStringSubmatch(body, -1) {
		offered[m[1]] = append(offered[m[1]], m[2])
		if m[3] != "" {
			ticked[m[1]] = append(ticked[m[1]], m[2])
		}
	}
	return mode, ticked, offered
}

// TestConsentResourceChoice (issue 17): the consent page offers, for each
// requested scope bound to warehouses, "all" (selected) or only the ticked
// warehouses, in Spanish and English; read:products gets no choice.
// Choosing W1 for read:stocks answers {"all": false, "W1": true} in the
// Multivende scopes object and RFC 9396 authorization_details in the RFC
// dialect, the other scopes {"all": true}; the default grants all; an
// unticked scope's choice is ignored. /connections says what each grant
// reaches, by the merchant's current names, a removed one as removed.
func TestConsentResourceChoice(t *testing.T) {
	t.Parallel()
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	b := e.browser()
	p := b.loginAndConsentPage(ra.authorize)

	var scopes []string
	for _, m := range fieldsetRe.FindAllStringSubmatch(p.body, -1) {
		scopes = append(scopes, m[1])
	}
	if strings.Join(scopes, " ") != "read:stocks write:stocks" {
		t.Fatalf("choices for %v, want read:stocks and write:stocks", scopes)
	}
	mode, ticked, offered := choicesOf(p.body)
	if mode["read:stocks"] != "all" || mode["write:stocks"] != "all" || len(ticked) != 0 ||
		strings.Join(offered["read:stocks"], " ") != "W1 W2" || strings.Join(offered["write:stocks"], " ") != "W1 W2" {
		t.Fatalf("the choices start at %v, ticked %v, offering %v", mode, ticked, offered)
	}
	txt := text(p.body)
	for _, want := range []string{"¿En qué bodegas?", "En cualquier bodega, también en bodegas que agregues después",
		"Solo en:", "Bodega Central", "Bodega Norte", "Ver tu inventario — en cualquier bodega",
		"Modificar tu inventario — en cualquier bodega"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the consent page lacks %q:\n%s", want, txt)
		}
	}
	// Names that do not repeat are shown without their ids.
	if strings.Contains(p.body, `class="resource-id"`) {
		t.Fatal("ids shown beside names that do not repeat")
	}
	en := text(b.getLang(ra.authorize, "en").body)
	for _, want := range []string{"In which warehouses?", "In any warehouse, including warehouses you add later", "Only in:",
		"See your stock levels — in any warehouse"} {
		if !strings.Contains(en, want) {
			t.Fatalf("the English consent page lacks %q:\n%s", want, en)
		}
	}

	// read:stocks for W1 only; write:stocks unticked, its choice (W2)
	// ignored.
	code := codeOf(t, b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks", "read:products"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W1"},
		"resources_mode.write:stocks": {"some"}, "resources.write:stocks": {"W2"}}))
	mv := ra.mvExchange(code)
	if got := jsonOf(mv.json["scopes"]); got != `{"read:products":{"all":true},"read:stocks":{"W1":true,"all":false}}` {
		t.Fatalf("the Multivende scopes object: %s", got)
	}
	p = b.get(ra.authorize)
	code = codeOf(t, b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks", "read:products"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W1"}}))
	rfc := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {appRedirect}}, ra.app.ClientID, ra.secret)
	if rfc.status != http.StatusOK || rfc.json["scope"] != "read:stocks read:products" ||
		jsonOf(rfc.json["authorization_details"]) != `[{"actions":["read:stocks"],"identifier":"W1","type":"warehouse"}]` {
		t.Fatalf("the RFC 6749 answer: %d %s", rfc.status, rfc.raw)
	}

	// The default, "all", as the page posts it: every scope {"all": true}.
	p = b.get(ra.authorize)
	code = codeOf(t, b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks", "write:stocks"},
		"resources_mode.read:stocks": {"all"}, "resources_mode.write:stocks": {"all"}}))
	if got := jsonOf(ra.mvExchange(code).json["scopes"]); got != `{"read:stocks":{"all":true},"write:stocks":{"all":true}}` {
		t.Fatalf("a choice of all: %s", got)
	}
	// "all" with boxes ticked (the list shown without scripts): all.
	p = b.get(ra.authorize)
	code = codeOf(t, b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks"},
		"resources_mode.read:stocks": {"all"}, "resources.read:stocks": {"W2"}}))
	if got := jsonOf(ra.mvExchange(code).json["scopes"]); got != `{"read:stocks":{"all":true}}` {
		t.Fatalf("all with a box ticked: %s", got)
	}

	// /connections: what each grant reaches, by name.
	conns := text(b.get("/connections").body)
	for _, want := range []string{"Ver tu inventario — solo en Bodega Central", "Ver tu inventario — en cualquier bodega",
		"Modificar tu inventario — en cualquier bodega"} {
		if !strings.Contains(conns, want) {
			t.Fatalf("/connections lacks %q:\n%s", want, conns)
		}
	}
	if strings.Contains(conns, "Ver tus productos —") {
		t.Fatalf("/connections gives an unbound scope a reach:\n%s", conns)
	}
	// The platform renames W1 and adds a warehouse of the same name:
	// the page follows, with the ids where names repeat; then W1 goes.
	e.setWarehouses(store.Resource{ID: "W1", Name: "Bodega Sur"}, store.Resource{ID: "W3", Name: "Bodega Sur"}, w2)
	if conns := text(b.get("/connections").body); !strings.Contains(conns, "Ver tu inventario — solo en Bodega Sur (W1)") {
		t.Fatalf("/connections after the renaming:\n%s", conns)
	}
	e.setWarehouses(w2)
	if conns := text(b.get("/connections").body); !strings.Contains(conns, "Ver tu inventario — solo en W1 (ya no existe)") {
		t.Fatalf("/connections after W1 was removed:\n%s", conns)
	}
	if conns := text(b.getLang("/connections?lang=en", "en").body); !strings.Contains(conns, "See your stock levels — only in W1 (removed)") {
		t.Fatalf("English /connections after W1 was removed:\n%s", conns)
	}
}

// TestConsentResourceChoiceRefused: a forged choice (an id that is not
// the merchant's, a scope that was not requested or is not bound to a
// resource type, a mode the page does not have) is a 400 and writes
// nothing; "only these" with none ticked shows the page again (422) with
// the choice as it was posted and a message naming the scope, and writes
// nothing either; cancelling works whatever the choice says.
func TestConsentResourceChoiceRefused(t *testing.T) {
	t.Parallel()
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	b := e.browser()
	p := b.loginAndConsentPage(ra.authorize)
	granted := []string{"read:stocks", "read:products"}
	for _, c := range []struct {
		what   string
		fields url.Values
	}{
		{"an id that is not the merchant's", url.Values{"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W9"}}},
		{"an id among the merchant's", url.Values{"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W1", "W9"}}},
		{"an id of an unticked scope", url.Values{"resources_mode.write:stocks": {"some"}, "resources.write:stocks": {"W9"}}},
		{"a scope not requested", url.Values{"resources_mode.read:channels": {"all"}}},
		{"ids of a scope not requested", url.Values{"resources.read:channels": {"C1"}}},
		{"a scope not bound to a resource type", url.Values{"resources_mode.read:products": {"some"}, "resources.read:products": {"W1"}}},
		{"a mode the page does not have", url.Values{"resources_mode.read:stocks": {"none"}}},
		{"two modes", url.Values{"resources_mode.read:stocks": {"all", "some"}}},
	} {
		before := redistest.Snapshot(t, e.rdb)
		c.fields["granted"] = granted
		r := b.postConsent(ra.authorize, p, c.fields)
		if r.status != http.StatusBadRequest || r.location != "" || !strings.Contains(text(r.body), "La solicitud no es válida.") {
			t.Fatalf("%s: %d %q\n%s", c.what, r.status, r.location, text(r.body))
		}
		redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	}

	before := redistest.Snapshot(t, e.rdb)
	r := b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks", "write:stocks"},
		"resources_mode.read:stocks": {"all"}, "resources_mode.write:stocks": {"some"}})
	if r.status != http.StatusUnprocessableEntity || r.location != "" {
		t.Fatalf("only these with none ticked: %d %q", r.status, r.location)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))
	if msg := text(regexp.MustCompile(`(?s)<p class="alert" role="alert" id="no-resource">.*?</p>`).FindString(r.body)); !strings.Contains(msg,
		"Para «Modificar tu inventario» elegiste «Solo en:» pero no marcaste ninguna opción de la lista") {
		t.Fatalf("the message: %q\n%s", msg, text(r.body))
	}
	if !strings.Contains(r.body, `class="resource-choice invalid" id="resources-write:stocks"`) {
		t.Fatal("the empty choice is not marked")
	}
	mode, _, _ := choicesOf(r.body)
	var tickedScopes []string
	for _, m := range checkboxRe.FindAllStringSubmatch(r.body, -1) {
		if m[2] != "" {
			tickedScopes = append(tickedScopes, m[1])
		}
	}
	if mode["read:stocks"] != "all" || mode["write:stocks"] != "some" || strings.Join(tickedScopes, " ") != "read:stocks write:stocks" {
		t.Fatalf("the page shown again: modes %v, scopes ticked %v", mode, tickedScopes)
	}
	// From the page shown again, choosing a warehouse works.
	code := codeOf(t, b.postConsent(ra.authorize, r, url.Values{"granted": {"read:stocks", "write:stocks"},
		"resources_mode.read:stocks": {"all"}, "resources_mode.write:stocks": {"some"}, "resources.write:stocks": {"W2"}}))
	if got := jsonOf(ra.mvExchange(code).json["scopes"]); got != `{"read:stocks":{"all":true},"write:stocks":{"W2":true,"all":false}}` {
		t.Fatalf("after choosing W2: %s", got)
	}

	// Cancel reads nothing of the choice.
	p = b.get(ra.authorize)
	r = b.post(ra.authorize, url.Values{"csrf_token": {csrfOf(t, p)}, "decision": {"cancel"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W9"}})
	if u, _ := url.Parse(r.location); r.status != http.StatusSeeOther || u.Query().Get("error") != "access_denied" {
		t.Fatalf("cancel: %d %s", r.status, r.location)
	}
}

// TestConsentResourceChoiceNone: a merchant without warehouses gets no
// choice, and the bound scopes reach all; a form posted with a choice
// anyway is forged.
func TestConsentResourceChoiceNone(t *testing.T) {
	t.Parallel()
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	e.setWarehouses()
	b := e.browser()
	p := b.loginAndConsentPage(ra.authorize)
	if strings.Contains(p.body, "resource-choice") || strings.Contains(p.body, `id="reaches"`) {
		t.Fatalf("a choice of warehouses for a merchant without any:\n%s", text(p.body))
	}
	if r := b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks"}, "resources_mode.read:stocks": {"all"}}); r.status != http.StatusBadRequest {
		t.Fatalf("a choice the page did not offer: %d", r.status)
	}
	code := codeOf(t, b.postConsent(ra.authorize, p, url.Values{"granted": {"read:stocks"}}))
	if got := jsonOf(ra.mvExchange(code).json["scopes"]); got != `{"read:stocks":{"all":true}}` {
		t.Fatalf("without warehouses: %s", got)
	}
}

// TestConsentResourcePreselect: resources an app asks for with RFC 9396
// authorization_details on the authorize request are offered chosen on
// the consent page (one the merchant does not have is left out); the
// merchant still decides, and what the form posts is what is granted.
func TestConsentResourcePreselect(t *testing.T) {
	t.Parallel()
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	asked := ra.authorize + "&" + url.Values{"authorization_details": {
		`[{"type":"warehouse","actions":["read:stocks"],"identifier":"W1"},{"type":"warehouse","actions":["read:stocks"],"identifier":"W9"}]`}}.Encode()
	b := e.browser()
	p := b.loginAndConsentPage(asked)
	mode, ticked, _ := choicesOf(p.body)
	if mode["read:stocks"] != "some" || strings.Join(ticked["read:stocks"], " ") != "W1" || mode["write:stocks"] != "all" {
		t.Fatalf("the preselection: %v %v", mode, ticked)
	}
	// The merchant widens it to both: their choice, not the app's, counts.
	code := codeOf(t, b.postConsent(asked, p, url.Values{"granted": {"read:stocks"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W1", "W2"}}))
	mv := ra.mvExchange(code)
	if got := jsonOf(mv.json["scopes"]); got != `{"read:stocks":{"W1":true,"W2":true,"all":false}}` {
		t.Fatalf("the grant: %s", got)
	}
}

// TestConnectionsNarrow: from /connections the merchant narrows a live
// connection: read:stocks from W1 and W2 to W2, write:stocks from all to
// W1. The token's next check says so (/api/d/info); the page offers
// nothing wider (a limited scope has no "all", its options are what it
// reaches) and a forged field is 400, "only these" with nothing ticked
// 422, another merchant's connection 404, each with nothing written.
func TestConnectionsNarrow(t *testing.T) {
	t.Parallel()
	ra := newResourceApp(t, appRedirect)
	e := ra.e
	ctx := context.Background()
	conn, code, err := e.st.Approve(ctx, store.Grant{ClientID: ra.app.ClientID, MerchantID: e.merchant.ID, RedirectURI: appRedirect,
		Scopes: stockScopes, Resources: store.ResourceGrant{"read:stocks": {"W1", "W2"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok := e.form("/oauth/token", url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}},
		ra.app.ClientID, ra.secret).json["access_token"].(string)

	b := e.browser()
	b.loginAndConsentPage(ra.authorize)
	list := b.get("/connections")
	if !strings.Contains(list.body, `href="/connections/`+conn.ID+`/resources"`) {
		t.Fatalf("/connections offers no narrowing:\n%s", list.body)
	}
	path := "/connections/" + conn.ID + "/resources"
	p := b.get(path)
	mode, ticked, offered := choicesOf(p.body)
	if p.status != http.StatusOK || mode["read:stocks"] != "" || strings.Join(ticked["read:stocks"], " ") != "W1 W2" ||
		mode["write:stocks"] != "all" || strings.Join(offered["write:stocks"], " ") != "W1 W2" {
		t.Fatalf("the narrowing page: %d %v %v %v\n%s", p.status, mode, ticked, offered, p.body)
	}
	csrf := csrfOf(t, p)
	other, err := e.st.CreateMerchant(ctx, "otra@tienda.cl", "Otra", password)
	if err != nil {
		t.Fatal(err)
	}
	theirs, _, err := e.st.Approve(ctx, store.Grant{ClientID: ra.app.ClientID, MerchantID: other.ID, RedirectURI: appRedirect,
		Scopes: stockScopes})
	if err != nil {
		t.Fatal(err)
	}
	before := redistest.Snapshot(t, e.rdb)
	for name, form := range map[string]url.Values{
		"all for a limited scope": {"resources_mode.read:stocks": {"all"}},
		"an id it does not reach": {"resources.read:stocks": {"W1", "W3"}},
		"ids without a mode":      {"resources.write:stocks": {"W1"}},
		"an unknown mode":         {"resources_mode.write:stocks": {"most"}},
	} {
		form.Set("csrf_token", csrf)
		if p := b.post(path, form); p.status != http.StatusBadRequest {
			t.Errorf("%s: %d", name, p.status)
		}
	}
	if p := b.post(path, url.Values{"csrf_token": {csrf}, "resources_mode.write:stocks": {"all"}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "Marca al menos un recurso") {
		t.Fatalf("read:stocks with nothing ticked: %d\n%s", p.status, p.body)
	}
	if p := b.get("/connections/" + theirs.ID + "/resources"); p.status != http.StatusNotFound {
		t.Fatalf("another merchant's connection: %d", p.status)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, e.rdb))

	p = b.post(path, url.Values{"csrf_token": {csrf}, "resources.read:stocks": {"W2"},
		"resources_mode.write:stocks": {"some"}, "resources.write:stocks": {"W1"}})
	if p.status != http.StatusSeeOther || p.location != "/connections?narrowed=1" {
		t.Fatalf("narrow: %d %s\n%s", p.status, p.location, p.body)
	}
	if got := jsonOf(e.info(tok).json["scopes"]); got != `{"read:products":{"all":true},"read:stocks":{"W2":true,"all":false},"write:stocks":{"W1":true,"all":false}}` {
		t.Fatalf("the next check after narrowing: %s", got)
	}
	if list := b.get("/connections?narrowed=1"); !strings.Contains(list.body, `id="narrowed"`) {
		t.Fatal("no notice after narrowing")
	}
}
