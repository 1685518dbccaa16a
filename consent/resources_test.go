package consent

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/text/language"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// fakeAuthorizer answers every request with req and every approval with
// err (or a redirect), recording what was approved.
type fakeAuthorizer struct {
	req      *AuthorizeRequest
	err      error
	approved store.ResourceGrant
}

func (a *fakeAuthorizer) ParseAuthorize(*http.Request) (*AuthorizeRequest, error) { return a.req, nil }
func (a *fakeAuthorizer) Approve(_ context.Context, _ *AuthorizeRequest, _ string, _ []string, g store.ResourceGrant) (string, error) {
	a.approved = g
	return "https://app.example/cb?code=x", a.err
}
func (a *fakeAuthorizer) Refuse(*AuthorizeRequest, string, string) string { return "" }

func (a *fakeAuthorizer) ParseLogout(*http.Request) (*LogoutRequest, error) {
	return &LogoutRequest{}, nil
}

func (a *fakeAuthorizer) Deny(context.Context, *AuthorizeRequest) string {
	return "https://app.example/cb?error=access_denied"
}

var testTypes = store.ResourceTypes{{Name: "warehouse", ES: "Bodegas", EN: "Warehouses", ESOne: "Bodega", ENOne: "Warehouse"}}
var testCatalogue = store.Catalogue{
	{Name: "read:stocks", ES: "Ver tu inventario", EN: "See your stock levels", Resource: "warehouse"},
	{Name: "read:products", ES: "Ver tus productos", EN: "See your products"},
}

// resourcePages are the merchant pages over a real Redis, with a merchant
// who has warehouses W1 and W2, logged in through cookie.
type resourcePages struct {
	engine *gin.Engine
	auth   *fakeAuthorizer
	cookie *http.Cookie
	csrf   string
}

func newResourcePages(t *testing.T) *resourcePages {
	t.Helper()
	ctx := context.Background()
	st := store.New(redistest.Start(t).Client(t), store.Options{})
	m, err := st.CreateMerchant(ctx, "ana@tienda.cl", "Tienda de Ana", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetResources(ctx, store.ResourceSet{MerchantID: m.ID, Type: "warehouse",
		Resources: []store.Resource{{ID: "W1", Name: "Bodega Central"}, {ID: "W2", Name: "Bodega Norte"}},
		By:        store.ActorAdminKey("test")}, testTypes); err != nil {
		t.Fatal(err)
	}
	ss := NewSessionStore(st, []byte(strings.Repeat("k", 32)), time.Hour, false)
	kit, err := NewKit(KitOptions{Templates: os.DirFS(".."), Sessions: ss, Catalogue: testCatalogue, ResourceTypes: testTypes,
		Apps: func(context.Context, string) (*store.App, error) { return nil, store.ErrNotFound }, Limiter: st})
	if err != nil {
		t.Fatal(err)
	}
	auth := &fakeAuthorizer{req: &AuthorizeRequest{ClientID: "c1", AppName: "Bodegas al Día",
		RedirectURI: "https://app.example/cb", Scopes: []string{"read:stocks", "read:products"}}}
	h := NewMerchantPages(kit, auth, st)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET(AuthorizePath, h.Authorize)
	e.POST(AuthorizePath, h.Decide)

	// A logged-in session, as Login leaves it.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	sess, err := ss.New(r, sessionName)
	if err != nil {
		t.Fatal(err)
	}
	sess.Values = map[any]any{keyMerchant: m.ID, keyCSRF: "csrf-token",
		keyLoginAt: strconv.FormatInt(time.Now().UnixMilli(), 10)}
	if err := ss.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	return &resourcePages{engine: e, auth: auth, cookie: w.Result().Cookies()[0], csrf: "csrf-token"}
}

func (p *resourcePages) do(t *testing.T, method string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if method == http.MethodGet {
		r = httptest.NewRequest(method, AuthorizePath+"?client_id=c1", nil)
	} else {
		form.Set(csrfFormField, p.csrf)
		r = httptest.NewRequest(method, AuthorizePath+"?client_id=c1", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.AddCookie(p.cookie)
	w := httptest.NewRecorder()
	p.engine.ServeHTTP(w, r)
	return w
}

var resourceBox = regexp.MustCompile(`name="resources\.read:stocks" value="([^"]+)" data-label="[^"]*"( checked)?`)

func tickedResources(body string) string {
	var out []string
	for _, m := range resourceBox.FindAllStringSubmatch(body, -1) {
		if m[2] != "" {
			out = append(out, m[1])
		}
	}
	return strings.Join(out, " ")
}

// TestConsentPreselect: resources the app asked for (Preselect) start
// chosen: "only these", those of them the merchant has ticked, the others
// ignored; the summary says so. An app asking only for resources the
// merchant does not have gets "only these" with none ticked, not all.
func TestConsentPreselect(t *testing.T) {
	p := newResourcePages(t)
	p.auth.req.Preselect = store.ResourceGrant{"read:stocks": {"W2", "W9"}}
	w := p.do(t, http.MethodGet, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK || !strings.Contains(body, `value="some" checked`) || strings.Contains(body, `value="all" checked`) {
		t.Fatalf("preselected: %d\n%s", w.Code, body)
	}
	if got := tickedResources(body); got != "W2" {
		t.Fatalf("ticked %q, want W2", got)
	}
	if strings.Contains(body, "W9") {
		t.Fatal("an id the merchant does not have is on the page")
	}
	if !strings.Contains(body, `Ver tu inventario — <span class="reach-text">solo en Bodega Norte</span>`) {
		t.Fatalf("the summary:\n%s", body)
	}

	p.auth.req.Preselect = store.ResourceGrant{"read:stocks": {"W9"}}
	body = p.do(t, http.MethodGet, nil).Body.String()
	if !strings.Contains(body, `value="some" checked`) || tickedResources(body) != "" {
		t.Fatalf("preselected resources the merchant does not have:\n%s", body)
	}

	p.auth.req.Preselect = nil
	body = p.do(t, http.MethodGet, nil).Body.String()
	if !strings.Contains(body, `value="all" checked`) || tickedResources(body) != "" {
		t.Fatalf("without Preselect:\n%s", body)
	}
}

// TestConsentResourceGone: an approval that Approve refuses with
// store.ErrInvalid (a chosen resource removed meanwhile) shows the page
// again (409) with a message and the choice as posted; a plain one passes
// the grant of the ticked scopes to Approve.
func TestConsentResourceGone(t *testing.T) {
	p := newResourcePages(t)
	p.auth.err = fmt.Errorf("approve: %w: %q is not one of the merchant's resources", store.ErrInvalid, "W2")
	w := p.do(t, http.MethodPost, url.Values{"decision": {"approve"}, "granted": {"read:stocks"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W2"}})
	body := w.Body.String()
	if w.Code != http.StatusConflict || !strings.Contains(body, `id="resource-gone"`) ||
		!strings.Contains(body, "Algo de lo que elegiste ya no está en tu tienda") {
		t.Fatalf("a resource gone: %d\n%s", w.Code, body)
	}
	if !strings.Contains(body, `value="some" checked`) || tickedResources(body) != "W2" {
		t.Fatalf("the choice shown again:\n%s", body)
	}

	p.auth.err = nil
	w = p.do(t, http.MethodPost, url.Values{"decision": {"approve"}, "granted": {"read:stocks", "read:products"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W2", "W1", "W2"}})
	if w.Code != http.StatusSeeOther || fmt.Sprint(p.auth.approved) != "map[read:stocks:[W2 W1]]" {
		t.Fatalf("approve: %d, grant %v", w.Code, p.auth.approved)
	}
	w = p.do(t, http.MethodPost, url.Values{"decision": {"approve"}, "granted": {"read:products"},
		"resources_mode.read:stocks": {"some"}, "resources.read:stocks": {"W1"}})
	if w.Code != http.StatusSeeOther || p.auth.approved != nil {
		t.Fatalf("an unticked scope's choice: %d, grant %v", w.Code, p.auth.approved)
	}
}

// TestResourceWords: the type's label in the middle of a sentence, and
// lists of names, in both languages.
func TestResourceWords(t *testing.T) {
	for in, want := range map[string]string{"Bodegas": "bodegas", "Canales de venta": "canales de venta", "ERP": "ERP",
		"": "", "élan": "élan", "Éxitos": "éxitos"} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	es, en := cat.localizer(language.Spanish), cat.localizer(language.English)
	for _, c := range []struct {
		loc   localizer
		names []string
		want  string
	}{
		{es, []string{"A"}, "A"}, {es, []string{"A", "B"}, "A y B"}, {es, []string{"A", "B", "C"}, "A, B y C"},
		{en, []string{"A", "B", "C"}, "A, B and C"},
	} {
		if got := joinNames(c.loc, c.names); got != c.want {
			t.Errorf("joinNames(%v) = %q, want %q", c.names, got, c.want)
		}
	}
}
