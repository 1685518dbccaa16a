package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/safefetch"
	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// logoServer is the far side of logo_uri: a TLS server on loopback with
// its own CA, which counts what it is asked for.
type logoServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func newLogoServer(t *testing.T) *logoServer {
	t.Helper()
	var b bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for x := range 48 {
		img.Set(x, x, color.RGBA{200, 10, 10, 255})
	}
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	logo := b.Bytes()
	ls := &logoServer{hits: map[string]int{}}
	ls.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ls.mu.Lock()
		ls.hits[r.URL.Path]++
		ls.mu.Unlock()
		switch r.URL.Path {
		case "/logo.png":
			w.Header().Set("Content-Type", "image/png")
			_, _ = w.Write(logo)
		case "/logo2.png":
			_, _ = w.Write(logo[:len(logo)-1]) // another logo: a truncated one is not an image…
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>not a logo</body></html>"))
		case "/huge.png":
			_, _ = w.Write(append(bytes.Clone(logo), make([]byte, store.MaxLogoBytes)...))
		case "/moved.png":
			http.Redirect(w, r, "/logo.png", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ls.Close)
	return ls
}

func (ls *logoServer) hit(path string) int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.hits[path]
}

func (ls *logoServer) total() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	n := 0
	for _, v := range ls.hits {
		n += v
	}
	return n
}

// regEnv is enlace allowed to fetch from its logo server (and from no
// other loopback or private address), with a developer and their initial
// access token.
type regEnv struct {
	*testEnv
	logos *logoServer
	dev   *store.Developer
	iat   string
}

func newRegEnv(t *testing.T) *regEnv {
	t.Helper()
	ls := newLogoServer(t)
	addr := netip.MustParseAddrPort(ls.Listener.Addr().String())
	e := startEnvWith(t, nil, nil, func(o *server.Options) {
		o.Fetch = safefetch.Options{
			Allow:   func(a netip.AddrPort) bool { return a == addr },
			RootCAs: ls.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
		}
	})
	ctx := context.Background()
	dev, err := e.st.CreateDeveloper(ctx, "dev@studio.example", "Dev Studio", "a developer pw")
	if err != nil {
		t.Fatal(err)
	}
	iat, _, err := e.st.CreateInitialAccessToken(ctx, dev.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &regEnv{testEnv: e, logos: ls, dev: dev, iat: iat}
}

// call sends a registration request as RFC 7591 §3.1 and RFC 7592 §2 show
// them: JSON in and out, the token as a bearer token. body is a string
// (sent as it is) or anything json.Marshal takes; nil sends none.
func (r *regEnv) call(method, path, token string, body any) response {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			r.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	if !strings.HasPrefix(path, "http") {
		path = r.url + path
	}
	req, _ := http.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return r.send(req)
}

// rfcExample is the registration request of RFC 7591 §3.1, pointed at the
// test's logo server, with a scope (enlace asks for one) and the profile's
// links; members enlace does not know (a localized name, jwks_uri, an
// extension) are ignored, as §2 requires.
func (r *regEnv) rfcExample() map[string]any {
	return map[string]any{
		"redirect_uris":               []string{"https://client.example.org/callback", "https://client.example.org/callback2"},
		"client_name":                 "My Example Client",
		"client_name#ja-Jpan-JP":      "クライアント名",
		"token_endpoint_auth_method":  "client_secret_basic",
		"logo_uri":                    r.logos.URL + "/logo.png",
		"jwks_uri":                    "https://client.example.org/my_public_keys.jwks",
		"example_extension_parameter": "example_value",
		"scope":                       "read:products read:checkouts",
		"client_uri":                  "https://client.example.org/",
		"policy_uri":                  "https://client.example.org/privacy",
		"tos_uri":                     "https://client.example.org/terms",
		"contacts":                    []string{"Support@Client.example.org", "ops@client.example.org"},
		"grant_types":                 []string{"authorization_code", "refresh_token"},
		"response_types":              []string{"code"},
	}
}

// assertRegistration checks an answer against RFC 7591 §3.2.1 and RFC
// 7592 §3: the fields each requires, no caching, JSON.
func assertRegistration(t *testing.T, r response, status int, withSecret bool) {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d, got %d %s", status, r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
		t.Fatalf("a registration may be cached: %v", r.header)
	}
	for _, f := range []string{"client_id", "registration_access_token", "registration_client_uri",
		"redirect_uris", "client_name", "scope", "token_endpoint_auth_method", "grant_types", "response_types"} {
		if v, ok := r.json[f]; !ok || v == "" || v == nil {
			t.Fatalf("the answer lacks %s: %s", f, r.raw)
		}
	}
	if _, ok := r.json["client_id_issued_at"].(float64); !ok {
		t.Fatalf("client_id_issued_at is not a number: %s", r.raw)
	}
	_, hasSecret := r.json["client_secret"]
	if hasSecret != withSecret {
		t.Fatalf("client_secret present=%v, want %v: %s", hasSecret, withSecret, r.raw)
	}
	if exp, ok := r.json["client_secret_expires_at"]; withSecret && (!ok || exp != float64(0)) {
		t.Fatalf("client_secret_expires_at must be 0 with a secret: %s", r.raw)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestDynamicRegistration drives RFC 7591 registration and RFC 7592
// management with plain HTTP calls written from the RFCs' examples, then
// connects the registered client with golang.org/x/oauth2.
func TestDynamicRegistration(t *testing.T) {
	t.Parallel()
	r := newRegEnv(t)
	ctx := context.Background()

	md := r.call(http.MethodGet, "/.well-known/oauth-authorization-server", "", nil)
	if md.json["registration_endpoint"] != r.cfg.Issuer+"/oauth/register" {
		t.Fatalf("metadata: %s", md.raw)
	}

	res := r.call(http.MethodPost, "/oauth/register", r.iat, r.rfcExample())
	assertRegistration(t, res, http.StatusCreated, true)
	clientID, secret := res.json["client_id"].(string), res.json["client_secret"].(string)
	rat := res.json["registration_access_token"].(string)
	regURI := res.json["registration_client_uri"].(string)
	if regURI != r.cfg.Issuer+"/oauth/register/"+clientID || !strings.HasPrefix(rat, "rat-") {
		t.Fatalf("registration_client_uri %q, token %q", regURI, rat)
	}
	want := map[string]any{
		"client_name": "My Example Client", "scope": "read:products read:checkouts",
		"token_endpoint_auth_method": "client_secret_basic", "logo_uri": r.logos.URL + "/logo.png",
		"client_uri": "https://client.example.org/", "policy_uri": "https://client.example.org/privacy",
		"tos_uri": "https://client.example.org/terms",
	}
	for k, v := range want {
		if res.json[k] != v {
			t.Errorf("%s = %v, want %v", k, res.json[k], v)
		}
	}
	if got := strs(res.json["redirect_uris"]); !slices.Equal(got, []string{"https://client.example.org/callback", "https://client.example.org/callback2"}) {
		t.Errorf("redirect_uris %v", got)
	}
	if got := strs(res.json["contacts"]); !slices.Equal(got, []string{"support@client.example.org"}) {
		t.Errorf("contacts %v (the first, as the support email)", got)
	}
	if got := strs(res.json["grant_types"]); !slices.Equal(got, []string{"authorization_code", "refresh_token"}) {
		t.Errorf("grant_types %v", got)
	}
	if _, ok := res.json["jwks_uri"]; ok {
		t.Error("an ignored member is answered as registered")
	}

	// The app is the developer's, in development, its logo fetched once and
	// stored by enlace, its token a digest.
	app, err := r.st.GetApp(ctx, clientID)
	if err != nil {
		t.Fatal(err)
	}
	if app.Owner != r.dev.ID || app.Status != store.StatusDevelopment || app.Public ||
		app.Profile.SupportEmail != "support@client.example.org" || app.Profile.Logo == "" {
		t.Fatalf("app: %+v", app)
	}
	if _, err := r.st.LogoPNG(ctx, clientID, app.Profile.Logo); err != nil {
		t.Fatalf("the logo is not stored: %v", err)
	}
	if r.logos.hit("/logo.png") != 1 {
		t.Fatalf("the logo was fetched %d times", r.logos.hit("/logo.png"))
	}
	if app.RegistrationDigest != store.Digest(rat) {
		t.Fatal("the app does not hold the registration token's digest")
	}
	for k, v := range redistest.Snapshot(t, r.rdb) {
		if strings.Contains(v, rat) || strings.Contains(v, secret) {
			t.Fatalf("key %s holds a credential in clear", k)
		}
	}
	if strings.Contains(r.logs.String(), rat) || strings.Contains(r.logs.String(), r.iat) {
		t.Fatal("a token is in the log")
	}

	// RFC 7592 §2.1: read it back, without the secret.
	got := r.call(http.MethodGet, regURI, rat, nil)
	assertRegistration(t, got, http.StatusOK, false)
	for k, v := range want {
		if got.json[k] != v {
			t.Errorf("read: %s = %v, want %v", k, got.json[k], v)
		}
	}
	if got.json["client_secret_expires_at"] != float64(0) || got.json["registration_access_token"] != rat {
		t.Fatalf("read: %s", got.raw)
	}

	// The registered client with an independent OAuth client: a
	// development app, connected by one of its test merchants.
	if _, err := r.st.UpdateApp(ctx, clientID, store.AppUpdate{AddTestMerchants: []string{r.merchant.ID}},
		r.cfg.Scopes.Names(), store.ActorDeveloper(r.dev.ID)); err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: clientID, ClientSecret: secret, RedirectURL: "https://client.example.org/callback",
		Scopes: []string{"read:products", "read:checkouts"},
		Endpoint: oauth2.Endpoint{AuthURL: r.url + "/apps/authorize", TokenURL: r.url + "/oauth/token",
			AuthStyle: oauth2.AuthStyleInHeader}}
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier))
	b := r.browser()
	back := b.approve(authURL, b.loginAndConsentPage(authURL), "read:products", "read:checkouts")
	tok, err := conf.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if info := r.info(tok.AccessToken); info.status != http.StatusOK || info.json["OauthClientId"] != clientID {
		t.Fatalf("info: %d %s", info.status, info.raw)
	}

	// RFC 7592 §2.2: the full metadata replaces the registration. The
	// logo_uri is the same: it is not fetched again.
	upd := r.rfcExample()
	upd["client_id"] = clientID
	upd["client_name"] = "My Renamed Client"
	upd["redirect_uris"] = []string{"https://client.example.org/callback2"}
	upd["token_endpoint_auth_method"] = "client_secret_post"
	delete(upd, "tos_uri")
	upd["client_secret"] = secret // allowed when it is the current one
	put := r.call(http.MethodPut, regURI, rat, upd)
	assertRegistration(t, put, http.StatusOK, false)
	if put.json["client_name"] != "My Renamed Client" || put.json["token_endpoint_auth_method"] != "client_secret_post" ||
		put.json["tos_uri"] != nil || put.json["logo_uri"] != r.logos.URL+"/logo.png" {
		t.Fatalf("update: %s", put.raw)
	}
	if r.logos.hit("/logo.png") != 1 {
		t.Fatal("an unchanged logo_uri was fetched again")
	}
	// The removed redirect URI is refused at once; the kept one works.
	q := url.Values{"response_type": {"code"}, "client_id": {clientID}, "scope": {"read:products"},
		"code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
	q.Set("redirect_uri", "https://client.example.org/callback")
	if p := r.browser().get("/apps/authorize?" + q.Encode()); p.status != http.StatusBadRequest || p.location != "" {
		t.Fatalf("a removed redirect URI: %d %s", p.status, p.location)
	}
	q.Set("redirect_uri", "https://client.example.org/callback2")
	if p := r.browser().get("/apps/authorize?" + q.Encode()); p.status != http.StatusFound {
		t.Fatalf("a kept redirect URI: %d %s", p.status, p.body)
	}
	// A new logo_uri is fetched; dropping it drops the registration's logo.
	upd["logo_uri"] = r.logos.URL + "/moved.png"
	if res := r.call(http.MethodPut, regURI, rat, upd); res.status != http.StatusBadRequest ||
		res.json["error"] != "invalid_client_metadata" {
		t.Fatalf("a redirecting logo_uri: %d %s", res.status, res.raw)
	}
	delete(upd, "logo_uri")
	if res := r.call(http.MethodPut, regURI, rat, upd); res.status != http.StatusOK || res.json["logo_uri"] != nil {
		t.Fatalf("logo_uri dropped: %d %s", res.status, res.raw)
	}
	if a, _ := r.st.GetApp(ctx, clientID); a.Profile.Logo != "" {
		t.Fatal("the registration's logo stays after logo_uri was dropped")
	}

	// A second app: its registration access token opens its own only.
	other := r.call(http.MethodPost, "/oauth/register", r.iat, map[string]any{
		"redirect_uris": []string{"http://localhost:8080/cb"}, "client_name": "Mobile",
		"scope": "read:products", "token_endpoint_auth_method": "none"})
	assertRegistration(t, other, http.StatusCreated, false)
	if _, ok := other.json["client_secret_expires_at"]; ok || other.json["token_endpoint_auth_method"] != "none" {
		t.Fatalf("a public app's answer: %s", other.raw)
	}
	otherRat := other.json["registration_access_token"].(string)
	if a, _ := r.st.GetApp(ctx, other.json["client_id"].(string)); !a.Public || !a.NeedsPKCE() {
		t.Fatalf("none is not a public app: %+v", a)
	}

	before := redistest.Snapshot(t, r.rdb)
	var bodies []string
	for name, c := range map[string]struct {
		method, path, token string
		body                any
	}{
		"GET without a token":    {http.MethodGet, regURI, "", nil},
		"GET, wrong token":       {http.MethodGet, regURI, rat + "x", nil},
		"GET, an iat":            {http.MethodGet, regURI, r.iat, nil},
		"GET, another app's":     {http.MethodGet, regURI, otherRat, nil},
		"GET, no such app":       {http.MethodGet, "/oauth/register/" + store.NewID(), otherRat, nil},
		"PUT, another app's":     {http.MethodPut, regURI, otherRat, upd},
		"DELETE, another app's":  {http.MethodDelete, regURI, otherRat, nil},
		"DELETE, no token":       {http.MethodDelete, regURI, "", nil},
		"DELETE, no such app":    {http.MethodDelete, "/oauth/register/" + store.NewID(), otherRat, nil},
		"PUT, an access token":   {http.MethodPut, regURI, tok.AccessToken, upd},
		"POST with an rat":       {http.MethodPost, "/oauth/register", rat, r.rfcExample()},
		"POST with a secret":     {http.MethodPost, "/oauth/register", secret, r.rfcExample()},
		"POST, no token":         {http.MethodPost, "/oauth/register", "", r.rfcExample()},
		"PUT to the collection":  {http.MethodPut, "/oauth/register", r.iat, upd},
		"GET, the path's prefix": {http.MethodGet, "/oauth/register/", rat, nil},
	} {
		res := r.call(c.method, c.path, c.token, c.body)
		switch {
		case c.path == "/oauth/register" && c.method == http.MethodPut, strings.HasSuffix(c.path, "/"):
			if res.status != http.StatusMethodNotAllowed && res.status != http.StatusNotFound {
				t.Errorf("%s: %d %s", name, res.status, res.raw)
			}
			continue
		}
		assertOAuthError(t, res, http.StatusUnauthorized, "invalid_token")
		if ch := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") {
			t.Errorf("%s: challenge %q", name, ch)
		}
		if strings.Contains(name, "another app's") || strings.Contains(name, "no such app") {
			bodies = append(bodies, res.raw)
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("another app's registration and none answer differently:\n%s\n%s", bodies[0], b)
		}
	}
	// An update that is refused writes nothing either.
	for name, change := range map[string]func(m map[string]any){
		"another client_id":      func(m map[string]any) { m["client_id"] = "someone-else" },
		"no client_id":           func(m map[string]any) { delete(m, "client_id") },
		"a chosen secret":        func(m map[string]any) { m["client_secret"] = store.NewSecret() },
		"turned public":          func(m map[string]any) { m["token_endpoint_auth_method"] = "none" },
		"bad redirect URI":       func(m map[string]any) { m["redirect_uris"] = []string{"https://client.example.org/cb#frag"} },
		"unknown scope":          func(m map[string]any) { m["scope"] = "read:products launch:missiles" },
		"a logo not an image":    func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/page.html" },
		"a logo on a private IP": func(m map[string]any) { m["logo_uri"] = "https://192.168.1.10/logo.png" },
	} {
		m := copyObject(upd)
		change(m)
		res := r.call(http.MethodPut, regURI, rat, m)
		code := "invalid_client_metadata"
		if name == "bad redirect URI" {
			code = "invalid_redirect_uri"
		}
		if res.status != http.StatusBadRequest || res.json["error"] != code {
			t.Errorf("%s: want 400 %s, got %d %s", name, code, res.status, res.raw)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, r.rdb))

	// RFC 7592 §2.3: delete. The app and its connections are gone.
	del := r.call(http.MethodDelete, regURI, rat, nil)
	if del.status != http.StatusNoContent || del.raw != "" {
		t.Fatalf("delete: %d %s", del.status, del.raw)
	}
	if res := r.call(http.MethodGet, regURI, rat, nil); res.status != http.StatusUnauthorized {
		t.Fatalf("a deleted registration reads: %d %s", res.status, res.raw)
	}
	if info := r.info(tok.AccessToken); info.status != http.StatusUnauthorized {
		t.Fatalf("a deleted app's token works: %d %s", info.status, info.raw)
	}
	if _, err := r.st.GetApp(ctx, clientID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the app is still there: %v", err)
	}
	// The other app is untouched.
	if res := r.call(http.MethodGet, "/oauth/register/"+other.json["client_id"].(string), otherRat, nil); res.status != http.StatusOK {
		t.Fatalf("the other app: %d %s", res.status, res.raw)
	}
}

// copyObject copies a JSON object one level deep.
func copyObject(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestDynamicRegistrationRefusals: every bad registration answers its RFC 7591
// §3.2.2 error (or RFC 6750's for the token) and writes nothing; a
// logo_uri on a loopback or private address is refused before any
// connection.
func TestDynamicRegistrationRefusals(t *testing.T) {
	t.Parallel()
	r := newRegEnv(t)
	ctx := context.Background()
	expiring, _, err := r.st.CreateInitialAccessToken(ctx, r.dev.ID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r.clock.Add(2 * time.Minute) // the one above has expired; r.iat has not
	_, port, _ := net.SplitHostPort(r.logos.Listener.Addr().String())

	with := func(change func(m map[string]any)) map[string]any {
		m := r.rfcExample()
		change(m)
		return m
	}
	huge := `{"client_name":"` + strings.Repeat("a", 70<<10) + `"}`
	before := redistest.Snapshot(t, r.rdb)
	hitsBefore := r.logos.total()
	for name, c := range map[string]struct {
		token  string
		body   any
		status int
		code   string
	}{
		"no token":      {"", r.rfcExample(), 401, "invalid_token"},
		"bad token":     {"iat-" + store.NewSecret(), r.rfcExample(), 401, "invalid_token"},
		"expired token": {expiring, r.rfcExample(), 401, "invalid_token"},
		"not an iat":    {store.NewSecret(), r.rfcExample(), 401, "invalid_token"},

		"no redirect URI":    {r.iat, with(func(m map[string]any) { delete(m, "redirect_uris") }), 400, "invalid_redirect_uri"},
		"http redirect URI":  {r.iat, with(func(m map[string]any) { m["redirect_uris"] = []string{"http://client.example.org/cb"} }), 400, "invalid_redirect_uri"},
		"fragment":           {r.iat, with(func(m map[string]any) { m["redirect_uris"] = []string{"https://client.example.org/cb#x"} }), 400, "invalid_redirect_uri"},
		"relative":           {r.iat, with(func(m map[string]any) { m["redirect_uris"] = []string{"/cb"} }), 400, "invalid_redirect_uri"},
		"unknown scope":      {r.iat, with(func(m map[string]any) { m["scope"] = "read:products admin:everything" }), 400, "invalid_client_metadata"},
		"no scope":           {r.iat, with(func(m map[string]any) { delete(m, "scope") }), 400, "invalid_client_metadata"},
		"no name":            {r.iat, with(func(m map[string]any) { m["client_name"] = " " }), 400, "invalid_client_metadata"},
		"control in name":    {r.iat, with(func(m map[string]any) { m["client_name"] = "Bad\u202eName" }), 400, "invalid_client_metadata"},
		"implicit grant":     {r.iat, with(func(m map[string]any) { m["grant_types"] = []string{"implicit"} }), 400, "invalid_client_metadata"},
		"client credentials": {r.iat, with(func(m map[string]any) { m["grant_types"] = []string{"authorization_code", "client_credentials"} }), 400, "invalid_client_metadata"},
		"token response":     {r.iat, with(func(m map[string]any) { m["response_types"] = []string{"token"} }), 400, "invalid_client_metadata"},
		"private_key_jwt, no keys": {r.iat, with(func(m map[string]any) {
			m["token_endpoint_auth_method"] = "private_key_jwt"
			delete(m, "jwks_uri")
		}), 400, "invalid_client_metadata"},
		"client_secret_jwt":  {r.iat, with(func(m map[string]any) { m["token_endpoint_auth_method"] = "client_secret_jwt" }), 400, "invalid_client_metadata"},
		"bad contact":        {r.iat, with(func(m map[string]any) { m["contacts"] = []string{"not an email"} }), 400, "invalid_client_metadata"},
		"http policy_uri":    {r.iat, with(func(m map[string]any) { m["policy_uri"] = "http://client.example.org/privacy" }), 400, "invalid_client_metadata"},
		"http tos_uri":       {r.iat, with(func(m map[string]any) { m["tos_uri"] = "http://client.example.org/terms" }), 400, "invalid_client_metadata"},
		"http client_uri":    {r.iat, with(func(m map[string]any) { m["client_uri"] = "http://client.example.org/" }), 400, "invalid_client_metadata"},
		"http logo_uri":      {r.iat, with(func(m map[string]any) { m["logo_uri"] = "http://" + r.logos.Listener.Addr().String() + "/logo.png" }), 400, "invalid_client_metadata"},
		"loopback logo_uri":  {r.iat, with(func(m map[string]any) { m["logo_uri"] = "https://127.0.0.2:" + port + "/logo.png" }), 400, "invalid_client_metadata"},
		"localhost logo_uri": {r.iat, with(func(m map[string]any) { m["logo_uri"] = "https://localhost:1/logo.png" }), 400, "invalid_client_metadata"},
		"private logo_uri":   {r.iat, with(func(m map[string]any) { m["logo_uri"] = "https://10.0.0.7/logo.png" }), 400, "invalid_client_metadata"},
		"metadata logo_uri":  {r.iat, with(func(m map[string]any) { m["logo_uri"] = "https://169.254.169.254/latest/meta-data/" }), 400, "invalid_client_metadata"},
		"IPv6 loopback logo": {r.iat, with(func(m map[string]any) { m["logo_uri"] = "https://[::1]:" + port + "/logo.png" }), 400, "invalid_client_metadata"},
		"logo not an image":  {r.iat, with(func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/page.html" }), 400, "invalid_client_metadata"},
		"logo truncated":     {r.iat, with(func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/logo2.png" }), 400, "invalid_client_metadata"},
		"logo too large":     {r.iat, with(func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/huge.png" }), 400, "invalid_client_metadata"},
		"logo redirects":     {r.iat, with(func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/moved.png" }), 400, "invalid_client_metadata"},
		"logo missing":       {r.iat, with(func(m map[string]any) { m["logo_uri"] = r.logos.URL + "/nothing.png" }), 400, "invalid_client_metadata"},
		"malformed JSON":     {r.iat, `{"client_name": "x",`, 400, "invalid_client_metadata"},
		"not an object":      {r.iat, `["redirect_uris"]`, 400, "invalid_client_metadata"},
		"wrong type":         {r.iat, `{"redirect_uris": "https://client.example.org/cb"}`, 400, "invalid_client_metadata"},
		"duplicate key":      {r.iat, `{"client_name": "a", "client_name": "b", "redirect_uris": ["https://client.example.org/cb"], "scope": "read:products"}`, 400, "invalid_client_metadata"},
		"invalid UTF-8":      {r.iat, "{\"client_name\": \"\xff\"}", 400, "invalid_client_metadata"},
		"oversized body":     {r.iat, huge, 400, "invalid_client_metadata"},
	} {
		res := r.call(http.MethodPost, "/oauth/register", c.token, c.body)
		if res.status != c.status || res.json["error"] != c.code {
			t.Errorf("%s: want %d %s, got %d %s", name, c.status, c.code, res.status, res.raw)
			continue
		}
		assertOAuthError(t, res, c.status, c.code)
		if c.status == http.StatusUnauthorized && !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: no Bearer challenge", name)
		}
	}
	// An oversized body without a declared length (chunked) is cut at the
	// bound, with the same answer.
	req, _ := http.NewRequest(http.MethodPost, r.url+"/oauth/register", io.MultiReader(strings.NewReader(huge)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.iat)
	assertOAuthError(t, r.send(req), http.StatusBadRequest, "invalid_client_metadata")
	// Not JSON at all.
	req, _ = http.NewRequest(http.MethodPost, r.url+"/oauth/register", strings.NewReader("client_name=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+r.iat)
	assertOAuthError(t, r.send(req), http.StatusBadRequest, "invalid_client_metadata")

	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, r.rdb))
	// The logo server saw only the fetches of the logos it serves (not an
	// image, truncated, too large, redirecting, missing); the loopback and
	// private addresses were refused before any connection.
	if n := r.logos.total() - hitsBefore; n != 5 {
		t.Fatalf("the logo server was asked %d times: %v", n, r.logos.hits)
	}
	// The refusal of a logo does not say what an address resolved to.
	if strings.Contains(r.logs.String(), r.iat) {
		t.Fatal("the initial access token is in the log")
	}
}

// TestDynamicRegistrationUpdateAudit: an RFC 7592 update replaces the whole
// registration, but the app's audit trail names only what changed, and an
// update that changes nothing writes nothing.
func TestDynamicRegistrationUpdateAudit(t *testing.T) {
	t.Parallel()
	r := newRegEnv(t)
	ctx := context.Background()
	md := r.rfcExample()
	delete(md, "logo_uri")
	res := r.call(http.MethodPost, "/oauth/register", r.iat, md)
	assertRegistration(t, res, http.StatusCreated, true)
	clientID, rat, regURI := res.json["client_id"].(string), res.json["registration_access_token"].(string), res.json["registration_client_uri"].(string)
	md["client_id"] = clientID
	details := func() []string {
		t.Helper()
		events, _, err := r.st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 20)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range events {
			out = append(out, e.Detail)
		}
		return out
	}
	before, snap := details(), redistest.Snapshot(t, r.rdb)
	if put := r.call(http.MethodPut, regURI, rat, md); put.status != http.StatusOK || put.json["client_name"] != "My Example Client" {
		t.Fatalf("an unchanged update: %d %s", put.status, put.raw)
	}
	redistest.AssertUnchanged(t, snap, redistest.Snapshot(t, r.rdb))
	md["client_name"] = "My Renamed Client"
	if put := r.call(http.MethodPut, regURI, rat, md); put.status != http.StatusOK {
		t.Fatalf("a new name: %d %s", put.status, put.raw)
	}
	md["token_endpoint_auth_method"] = "client_secret_post"
	if put := r.call(http.MethodPut, regURI, rat, md); put.status != http.StatusOK || put.json["token_endpoint_auth_method"] != "client_secret_post" {
		t.Fatalf("a new auth method: %d %s", put.status, put.raw)
	}
	md["redirect_uris"] = []string{"https://client.example.org/callback2"}
	md["contacts"] = []string{"Help@Client.example.org"}
	if put := r.call(http.MethodPut, regURI, rat, md); put.status != http.StatusOK {
		t.Fatalf("new redirect URIs and contact: %d %s", put.status, put.raw)
	}
	got := details()
	if want := append([]string{"updated: redirect URIs, profile", "updated: registration metadata (RFC 7592)", "updated: name"}, before...); !slices.Equal(got, want) {
		t.Fatalf("the app's audit details:\n%q\nwant\n%q", got, want)
	}
	if a := r.getApp(clientID); a.Name != "My Renamed Client" || a.Profile.SupportEmail != "help@client.example.org" ||
		!slices.Equal(a.RedirectURIs, []string{"https://client.example.org/callback2"}) {
		t.Fatalf("the app after the updates: %+v", a)
	}
}

// TestDynamicRegistrationOpenIDMetadata: id_token_signed_response_alg
// (OpenID Connect Dynamic Client Registration 1.0 §2) and
// post_logout_redirect_uris (RP-Initiated Logout 1.0 §3.1) are registered,
// answered, read back and replaced by an RFC 7592 update; a bad value of
// either is 400 invalid_client_metadata naming the member, and writes
// nothing.
func TestDynamicRegistrationOpenIDMetadata(t *testing.T) {
	t.Parallel()
	r := newRegEnv(t)
	ctx := context.Background()
	md := r.rfcExample()
	delete(md, "logo_uri")

	// Without them: RS256 is answered, and no post-logout redirect URI.
	plain := r.call(http.MethodPost, "/oauth/register", r.iat, md)
	assertRegistration(t, plain, http.StatusCreated, true)
	if _, ok := plain.json["post_logout_redirect_uris"]; ok || plain.json["id_token_signed_response_alg"] != "RS256" {
		t.Fatalf("the defaults: %s", plain.raw)
	}

	md["id_token_signed_response_alg"] = "ES256"
	md["post_logout_redirect_uris"] = []string{"https://client.example.org/logged-out", "http://localhost:8080/bye"}
	res := r.call(http.MethodPost, "/oauth/register", r.iat, md)
	assertRegistration(t, res, http.StatusCreated, true)
	clientID, rat, regURI := res.json["client_id"].(string), res.json["registration_access_token"].(string), res.json["registration_client_uri"].(string)
	wantURIs := []string{"https://client.example.org/logged-out", "http://localhost:8080/bye"}
	check := func(what string, res response, alg string, uris []string) {
		t.Helper()
		got, _ := res.json["post_logout_redirect_uris"].([]any)
		if res.json["id_token_signed_response_alg"] != alg || len(got) != len(uris) || (len(uris) > 0 && !slices.Equal(strs(got), uris)) {
			t.Fatalf("%s: want %s and %v, got %s", what, alg, uris, res.raw)
		}
		a := r.getApp(clientID)
		if a.IDTokenSigningAlg() != alg || !slices.Equal(a.PostLogoutRedirectURIs, uris) {
			t.Fatalf("%s: the app holds %q and %v", what, a.IDTokenAlg, a.PostLogoutRedirectURIs)
		}
	}
	check("register", res, "ES256", wantURIs)
	if a := r.getApp(clientID); !a.AllowsPostLogoutRedirect("http://localhost:8080/bye") || a.AllowsPostLogoutRedirect("http://localhost:8080/bye/") {
		t.Fatal("the post-logout redirect URIs are not compared as exact strings")
	}
	got := r.call(http.MethodGet, regURI, rat, nil)
	assertRegistration(t, got, http.StatusOK, false)
	check("read back", got, "ES256", wantURIs)

	// Refusals, on registration and on update, write nothing.
	md["client_id"] = clientID
	before := redistest.Snapshot(t, r.rdb)
	for name, c := range map[string]struct {
		value any
		field string
	}{
		"HS256":               {"HS256", "id_token_signed_response_alg"},
		"none":                {"none", "id_token_signed_response_alg"},
		"lower case":          {"es256", "id_token_signed_response_alg"},
		"alg not a string":    {256, "id_token_signed_response_alg"},
		"http, not localhost": {[]string{"http://client.example.org/bye"}, "post_logout_redirect_uris"},
		"fragment":            {[]string{"https://client.example.org/bye#x"}, "post_logout_redirect_uris"},
		"relative":            {[]string{"/bye"}, "post_logout_redirect_uris"},
		"empty string":        {[]string{""}, "post_logout_redirect_uris"},
		"a string, no list":   {"https://client.example.org/bye", "post_logout_redirect_uris"},
		"more than 20": {func() []string {
			var out []string
			for i := range store.MaxPostLogoutRedirectURIs + 1 {
				out = append(out, fmt.Sprintf("https://client.example.org/bye/%d", i))
			}
			return out
		}(), "post_logout_redirect_uris"},
	} {
		m := copyObject(md)
		m[c.field] = c.value
		for _, call := range []struct{ method, path, token string }{
			{http.MethodPost, "/oauth/register", r.iat}, {http.MethodPut, regURI, rat}} {
			res := r.call(call.method, call.path, call.token, m)
			assertOAuthError(t, res, http.StatusBadRequest, "invalid_client_metadata")
			if desc, _ := res.json["error_description"].(string); !strings.Contains(desc, c.field) {
				t.Errorf("%s, %s: the description does not name %s: %s", name, call.method, c.field, res.raw)
			}
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, r.rdb))

	// RFC 7592 §2.2: an update replaces both, and the audit trail names
	// them; one that leaves them out goes back to the defaults.
	md["id_token_signed_response_alg"] = "RS256"
	md["post_logout_redirect_uris"] = []string{"https://client.example.org/logged-out"}
	put := r.call(http.MethodPut, regURI, rat, md)
	assertRegistration(t, put, http.StatusOK, false)
	check("update", put, "RS256", []string{"https://client.example.org/logged-out"})
	events, _, err := r.st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 1)
	if err != nil || len(events) != 1 || events[0].Detail != "updated: ID token algorithm, post-logout redirect URIs" {
		t.Fatalf("the update's audit event: %+v %v", events, err)
	}
	delete(md, "id_token_signed_response_alg")
	delete(md, "post_logout_redirect_uris")
	put = r.call(http.MethodPut, regURI, rat, md)
	assertRegistration(t, put, http.StatusOK, false)
	check("update without them", put, "RS256", nil)
	if events, _, _ := r.st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 1); events[0].Detail != "updated: post-logout redirect URIs" {
		t.Fatalf("RS256 and the default are one algorithm, not a change: %+v", events)
	}
}

// TestDynamicRegistrationSecurity: private_key_jwt with jwks (an object)
// or jwks_uri, require_pushed_authorization_requests and
// dpop_bound_access_tokens are registered, answered, read back and
// replaced by an RFC 7592 update (absent is false); a private_key_jwt app
// is answered no secret, and one that leaves private_key_jwt for a secret
// method is answered a new one; the FAPI 2.0 profile outlives an update
// and holds it; every bad combination is 400 invalid_client_metadata with
// the store's words, and writes nothing.
func TestDynamicRegistrationSecurity(t *testing.T) {
	t.Parallel()
	r := newRegEnv(t)
	ctx := context.Background()
	jwks := settingsPublicJWKS(t)
	var jwksObject map[string]any
	if err := json.Unmarshal([]byte(jwks), &jwksObject); err != nil {
		t.Fatal(err)
	}
	base := func() map[string]any {
		md := r.rfcExample()
		delete(md, "logo_uri")
		delete(md, "jwks_uri")
		return md
	}

	// A secret method's jwks_uri (the RFC's own example) is not enlace's
	// to use: registered as before, neither stored nor answered.
	res := r.call(http.MethodPost, "/oauth/register", r.iat, copyObject(r.rfcExample()))
	assertRegistration(t, res, http.StatusCreated, true)
	if _, ok := res.json["jwks_uri"]; ok || res.json["require_pushed_authorization_requests"] != false ||
		res.json["dpop_bound_access_tokens"] != false {
		t.Fatalf("the defaults: %s", res.raw)
	}
	if a := r.getApp(res.json["client_id"].(string)); a.JWKSURI != "" || a.UsesPrivateKeyJWT() {
		t.Fatalf("a secret method's jwks_uri was stored: %+v", a.Security())
	}

	// private_key_jwt with a jwks: no secret in the answer, the keys as
	// stored.
	md := base()
	md["token_endpoint_auth_method"] = "private_key_jwt"
	md["jwks"] = jwksObject
	res = r.call(http.MethodPost, "/oauth/register", r.iat, md)
	assertRegistration(t, res, http.StatusCreated, false)
	clientID, rat, regURI := res.json["client_id"].(string), res.json["registration_access_token"].(string), res.json["registration_client_uri"].(string)
	check := func(what string, res response, method string, par, dpop bool, jwks, jwksURI string) {
		t.Helper()
		var want any // the jwks answered: the set as stored, or none
		if jwks != "" {
			_ = json.Unmarshal([]byte(jwks), &want)
		}
		wantURI := any(nil)
		if jwksURI != "" {
			wantURI = jwksURI
		}
		if res.json["token_endpoint_auth_method"] != method || res.json["require_pushed_authorization_requests"] != par ||
			res.json["dpop_bound_access_tokens"] != dpop || !reflect.DeepEqual(res.json["jwks"], want) || res.json["jwks_uri"] != wantURI {
			t.Fatalf("%s: want %s par %v dpop %v jwks %s jwks_uri %q, got %s", what, method, par, dpop, jwks, jwksURI, res.raw)
		}
		if _, ok := res.json["client_secret_expires_at"]; ok == (method == store.AuthPrivateKeyJWT) {
			t.Fatalf("%s: client_secret_expires_at with %s: %s", what, method, res.raw)
		}
		a := r.getApp(clientID)
		if a.PARRequired() != par || a.DPoPRequired() != dpop || a.JWKS != jwks || a.JWKSURI != jwksURI ||
			a.UsesPrivateKeyJWT() != (method == store.AuthPrivateKeyJWT) {
			t.Fatalf("%s: the app holds %+v", what, a.Security())
		}
	}
	check("register with jwks", res, "private_key_jwt", false, false, jwks, "")
	got := r.call(http.MethodGet, regURI, rat, nil)
	assertRegistration(t, got, http.StatusOK, false)
	check("read back", got, "private_key_jwt", false, false, jwks, "")

	// Refusals, on registration and on update, write nothing.
	md["client_id"] = clientID
	k := settingsKeys()
	before := redistest.Snapshot(t, r.rdb)
	for name, c := range map[string]struct {
		change func(m map[string]any)
		want   string
	}{
		"no keys":     {func(m map[string]any) { delete(m, "jwks") }, "private_key_jwt needs the app's public keys: a jwks or a jwks_uri"},
		"both":        {func(m map[string]any) { m["jwks_uri"] = "https://client.example.org/jwks" }, "a jwks or a jwks_uri, not both"},
		"jwks a text": {func(m map[string]any) { m["jwks"] = jwks }, "jwks must be a JSON object"},
		"jwks a list": {func(m map[string]any) { m["jwks"] = []any{jwksObject} }, "jwks must be a JSON object"},
		"no JWK Set":  {func(m map[string]any) { m["jwks"] = map[string]any{"keys": "none"} }, "the jwks is not a JWK Set"},
		"a private key": {func(m map[string]any) {
			m["jwks"] = json.RawMessage(settingsJWKS(t, jose.JSONWebKey{Key: k.ec, KeyID: "oops"}))
		}, "key 1 of the jwks: a private or symmetric key; register only the public half"},
		"RSA of 1024 bits": {func(m map[string]any) {
			m["jwks"] = json.RawMessage(settingsJWKS(t, jose.JSONWebKey{Key: &k.rsa1024.PublicKey}))
		}, "an RSA key of 1024 bits (2048 to 4096)"},
		"http jwks_uri": {func(m map[string]any) {
			delete(m, "jwks")
			m["jwks_uri"] = "http://client.example.org/jwks"
		}, `jwks_uri "http://client.example.org/jwks" must use https`},
		"unknown method": {func(m map[string]any) { m["token_endpoint_auth_method"] = "tls_client_auth" }, `"tls_client_auth" is not supported`},
		"PAR not a bool": {func(m map[string]any) { m["require_pushed_authorization_requests"] = "yes" },
			"require_pushed_authorization_requests has the wrong type"},
		"DPoP not a bool": {func(m map[string]any) { m["dpop_bound_access_tokens"] = 1 }, "dpop_bound_access_tokens has the wrong type"},
	} {
		m := copyObject(md)
		c.change(m)
		for _, call := range []struct{ method, path, token string }{
			{http.MethodPost, "/oauth/register", r.iat}, {http.MethodPut, regURI, rat}} {
			res := r.call(call.method, call.path, call.token, m)
			assertOAuthError(t, res, http.StatusBadRequest, "invalid_client_metadata")
			if desc, _ := res.json["error_description"].(string); !strings.Contains(desc, c.want) || strings.Contains(desc, "invalid input") {
				t.Errorf("%s, %s: want %q, got %s", name, call.method, c.want, res.raw)
			}
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, r.rdb))

	// RFC 7592 §2.2: an update to a secret method is answered a new
	// secret, which authenticates the app; the keys go.
	m := copyObject(md)
	m["token_endpoint_auth_method"] = "client_secret_post"
	delete(m, "jwks")
	m["require_pushed_authorization_requests"] = true
	put := r.call(http.MethodPut, regURI, rat, m)
	assertRegistration(t, put, http.StatusOK, true)
	check("to a secret", put, "client_secret_post", true, false, "", "")
	secret, _ := put.json["client_secret"].(string)
	if a := r.getApp(clientID); !a.SecretMatches(secret, r.st.Now()) {
		t.Fatal("the secret answered does not authenticate the app")
	}
	events, _, err := r.st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 3)
	var details []string
	for _, ev := range events {
		details = append(details, ev.Detail)
	}
	if err != nil || len(details) != 3 || details[2] != "updated: security" || !strings.HasPrefix(details[1], "secret rotated") ||
		details[0] != "updated: registration metadata (RFC 7592)" {
		t.Fatalf("the update's audit events: %q %v", details, err)
	}
	// Once it has one, the same update changes nothing more.
	m["client_secret"] = secret
	put = r.call(http.MethodPut, regURI, rat, m)
	assertRegistration(t, put, http.StatusOK, false)
	if events, _, _ := r.st.ListAudit(ctx, store.AuditFilter{ClientID: clientID}, "", 1); events[0].Detail != details[0] {
		t.Fatalf("an update that changes nothing wrote %q", events[0].Detail)
	}

	// Back to private_key_jwt by jwks_uri, with DPoP; PAR left out is
	// false again.
	m = copyObject(md)
	delete(m, "jwks")
	m["jwks_uri"] = "https://client.example.org/jwks"
	m["dpop_bound_access_tokens"] = true
	put = r.call(http.MethodPut, regURI, rat, m)
	assertRegistration(t, put, http.StatusOK, false)
	check("to jwks_uri", put, "private_key_jwt", false, true, "", "https://client.example.org/jwks")

	// The FAPI 2.0 profile (the portal's) is no registration member: an
	// update keeps it, is answered the rules it turns on, and cannot
	// leave private_key_jwt under it.
	if _, err := r.st.UpdateApp(ctx, clientID, store.AppUpdate{FAPI2: new(true)}, r.cfg.Scopes.Names(), store.ActorCLI); err != nil {
		t.Fatal(err)
	}
	delete(m, "dpop_bound_access_tokens")
	put = r.call(http.MethodPut, regURI, rat, m)
	assertRegistration(t, put, http.StatusOK, false)
	check("on fapi2", put, "private_key_jwt", true, true, "", "https://client.example.org/jwks")
	if a := r.getApp(clientID); !a.FAPI2 || a.RequireDPoP || a.RequirePAR {
		t.Fatalf("fapi2 after the update: %+v", a.Security())
	}
	before = redistest.Snapshot(t, r.rdb)
	m["token_endpoint_auth_method"] = "client_secret_basic"
	res = r.call(http.MethodPut, regURI, rat, m)
	assertOAuthError(t, res, http.StatusBadRequest, "invalid_client_metadata")
	if desc, _ := res.json["error_description"].(string); !strings.Contains(desc, "FAPI 2.0 needs private_key_jwt") {
		t.Fatalf("leaving private_key_jwt on fapi2: %s", res.raw)
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, r.rdb))

	// A public app may ask for PAR and DPoP (and its jwks, with "none",
	// is ignored like a secret method's).
	pub := base()
	pub["jwks"] = jwksObject
	pub["token_endpoint_auth_method"] = "none"
	pub["require_pushed_authorization_requests"] = true
	pub["dpop_bound_access_tokens"] = true
	res = r.call(http.MethodPost, "/oauth/register", r.iat, pub)
	assertRegistration(t, res, http.StatusCreated, false)
	if res.json["token_endpoint_auth_method"] != "none" || res.json["require_pushed_authorization_requests"] != true ||
		res.json["dpop_bound_access_tokens"] != true {
		t.Fatalf("a public app with PAR and DPoP: %s", res.raw)
	}
	if a := r.getApp(res.json["client_id"].(string)); !a.RequirePAR || !a.RequireDPoP || !a.Public || a.JWKS != "" {
		t.Fatalf("the public app: %+v", a.Security())
	}
	if strings.Contains(r.logs.String(), secret) {
		t.Fatal("the secret is in the log")
	}
}
