package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// The fuzz targets below check invariants of the request parsers, not only
// that they do not panic. scripts/test runs each for a bounded time; a
// failing input is saved under testdata/fuzz/<target>/ and replayed by
// every plain `go test` from then on.

const (
	fuzzIssuer   = "https://auth.example.com"
	fuzzClientID = "app-1"
	// fuzzDisabledID names a disabled app: it must be treated as unknown.
	fuzzDisabledID = "app-disabled"
)

var (
	fuzzRedirectURIs = []string{
		"https://app.example.com/cb",
		"https://app.example.com/cb2?tenant=7",
		"http://localhost:8080/callback",
	}
	fuzzScopes = []string{"read:products", "write:products", "read:checkouts"}
)

func FuzzParseAuthorize(f *testing.F) {
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" // 43 chars
	for _, q := range []string{
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=read%3Aproducts&state=xyz",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=" + challenge + "&code_challenge_method=S256",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=" + challenge + "&code_challenge_method=plain",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=" + challenge,
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=short&code_challenge_method=S256",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb2%3Ftenant%3D7&state=s",
		"response_type=code&client_id=app-1&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fcallback&scope=read:products,write:products%09read:checkouts",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=read:products+read:products,,",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&scope=admin",
		"response_type=token&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
		"client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
		"response_type=code&client_id=app-1&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=a&state=b",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com.evil.com%2Fcb",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F..%2Fevil",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=%zz",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=%ff%fe",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=\xff",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=a;b",
		"response_type=code&client_id=app-1&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&iss=https%3A%2F%2Fevil&state=" + strings.Repeat("A", 8192),
		"response_type=code&client_id=unknown&redirect_uri=https%3A%2F%2Fevil.example%2F",
		"response_type=code&client_id=app-disabled&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
		"response_type=code&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb",
		"",
		"&&&=&=",
	} {
		f.Add(q, false, false)
		f.Add(q, true, false)
		f.Add(q, false, true)
	}

	s := &Server{cfg: &config.Config{Issuer: fuzzIssuer}, oauth: newOAuthLib(),
		log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, rawQuery string, public, requirePKCE bool) {
		app := &store.App{ClientID: fuzzClientID, Name: "App", RedirectURIs: fuzzRedirectURIs,
			Scopes: fuzzScopes, Public: public, RequirePKCE: requirePKCE}
		lookup := func(_ context.Context, id string) (*store.App, error) {
			switch id {
			case fuzzClientID:
				return app, nil
			case fuzzDisabledID:
				return &store.App{ClientID: fuzzDisabledID, RedirectURIs: fuzzRedirectURIs,
					Scopes: fuzzScopes, Disabled: true}, nil
			}
			return nil, store.ErrNotFound
		}
		noPushed := func(context.Context, string, string) (string, error) { return "", store.ErrNotFound }
		req, err := s.parseAuthorize(context.Background(), rawQuery, lookup, noPushed)
		q, qerr := url.ParseQuery(rawQuery)

		if err == nil {
			if qerr != nil {
				t.Fatalf("accepted a malformed query: %v", qerr)
			}
			for k, v := range q {
				if len(v) != 1 {
					t.Fatalf("accepted repeated parameter %q", k)
				}
			}
			if q.Get("response_type") != "code" {
				t.Fatalf("accepted response_type %q", q.Get("response_type"))
			}
			if req.ClientID != fuzzClientID || q.Get("client_id") != fuzzClientID {
				t.Fatalf("accepted client %q (sent %q)", req.ClientID, q.Get("client_id"))
			}
			if !slices.Contains(fuzzRedirectURIs, req.RedirectURI) || req.RedirectURI != q.Get("redirect_uri") {
				t.Fatalf("accepted redirect URI %q (sent %q)", req.RedirectURI, q.Get("redirect_uri"))
			}
			if req.State != q.Get("state") {
				t.Fatalf("state %q, sent %q", req.State, q.Get("state"))
			}
			if len(req.Scopes) == 0 {
				t.Fatal("accepted with no scopes")
			}
			for i, sc := range req.Scopes {
				if !slices.Contains(fuzzScopes, sc) {
					t.Fatalf("accepted unregistered scope %q", sc)
				}
				if slices.Contains(req.Scopes[:i], sc) {
					t.Fatalf("scope %q repeated", sc)
				}
			}
			if req.CodeChallenge != q.Get("code_challenge") {
				t.Fatalf("challenge %q, sent %q", req.CodeChallenge, q.Get("code_challenge"))
			}
			if req.CodeChallenge != "" {
				if m := q.Get("code_challenge_method"); m != "S256" {
					t.Fatalf("accepted a challenge with method %q", m)
				}
				if n := len(req.CodeChallenge); n < 43 || n > 128 {
					t.Fatalf("accepted a challenge of length %d", n)
				}
			}
			if app.NeedsPKCE() && req.CodeChallenge == "" {
				t.Fatal("an app that needs PKCE was accepted without a challenge")
			}
			return
		}

		var aerr *consent.AuthorizeError
		if !errors.As(err, &aerr) {
			t.Fatalf("error is not an *AuthorizeError: %v", err)
		}
		if (aerr.RedirectTo == "") == (aerr.Message == "") {
			t.Fatalf("error must have exactly one of RedirectTo and Message: %+v", aerr)
		}
		if aerr.RedirectTo == "" {
			return
		}
		// A redirect only once both the client and the redirect URI are known good.
		if qerr != nil {
			t.Fatalf("redirected on a malformed query: %q", aerr.RedirectTo)
		}
		if len(q["client_id"]) != 1 || q.Get("client_id") != fuzzClientID {
			t.Fatalf("redirected for client %q: %q", q["client_id"], aerr.RedirectTo)
		}
		sent := q.Get("redirect_uri")
		if len(q["redirect_uri"]) != 1 || !slices.Contains(fuzzRedirectURIs, sent) {
			t.Fatalf("redirected for unregistered redirect URI %q: %q", q["redirect_uri"], aerr.RedirectTo)
		}
		base, regQuery, _ := strings.Cut(sent, "?")
		rest, ok := strings.CutPrefix(aerr.RedirectTo, base+"?")
		if !ok {
			t.Fatalf("redirect %q does not start with the registered URI %q", aerr.RedirectTo, sent)
		}
		got, err := url.ParseQuery(rest)
		if err != nil {
			t.Fatalf("redirect %q has a malformed query: %v", aerr.RedirectTo, err)
		}
		reg, _ := url.ParseQuery(regQuery)
		for k, v := range reg {
			if !slices.Equal(got[k], v) {
				t.Fatalf("redirect %q lost the registered parameter %s=%q", aerr.RedirectTo, k, v)
			}
		}
		if !slices.Equal(got["iss"], []string{fuzzIssuer}) {
			t.Fatalf("redirect %q has iss %q", aerr.RedirectTo, got["iss"])
		}
		if len(got["error"]) != 1 || got.Get("error") == "" || got.Get("error_description") == "" {
			t.Fatalf("redirect %q lacks error or error_description", aerr.RedirectTo)
		}
		if got.Has("code") {
			t.Fatalf("error redirect %q carries a code", aerr.RedirectTo)
		}
		if st := q.Get("state"); st != "" && !slices.Equal(got["state"], []string{st}) {
			t.Fatalf("redirect %q has state %q, sent %q", aerr.RedirectTo, got["state"], st)
		}
	})
}

func FuzzParseTokenRequest(f *testing.F) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("app-1:s%3Acret"))
	for _, b := range []string{
		"grant_type=authorization_code&code=ac-1.abc&client_id=app-1&client_secret=s&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_verifier=v",
		"grant_type=refresh_token&refresh_token=rt-1.abc&scope=read%3Aproducts",
		"grant_type=refresh_token&grant_type=authorization_code",
		"client_id=app-1&client_id=app-2",
		"code=%zz",
		"code=%ff%fe",
		"code=\xff\xfe",
		"a=1;b=2",
		"client_secret=&client_id=",
		"scope=a,b\tc",
		`{"client_id":"app-1","client_secret":"s","grant_type":"authorization_code","code":"ac-1.abc"}`,
		`{"grant_type":"refresh_token","refresh_token":"rt-1.abc","client_id":null}`,
		`{"client_id":"a","client_id":"b"}`,
		`{"code":"\ud800"}`,
		"{\"code\":\"\xff\"}",
		`{"code":1}`,
		`{"code":"a"} {}`,
		`{"code":"a"} x`,
		`null`,
		`[]`,
		`"str"`,
		`{`,
		"",
		"code=" + strings.Repeat("A", maxBody),
		"cod%65=escaped+key&%67rant_type=x&=&&x&token",
		"token=a&token=b&code=%zz",
		"scope=a&scope=b&code=c&code=d",
		"unknown=%zz&code=c",
		strings.Repeat("&", maxFormParams-1) + "code=c",
		strings.Repeat("&", maxFormParams) + "code=c",
	} {
		for ct := range uint8(5) {
			f.Add(ct, "text/plain", []byte(b), "", true)
			f.Add(ct, "", []byte(b), basic, ct%2 == 0)
		}
	}
	for _, h := range []string{"basic " + base64.StdEncoding.EncodeToString([]byte("app-1:")),
		"Basic !!!", "Basic", "Bearer at-1.x", "Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:x")),
		"Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:x"))} {
		f.Add(uint8(0), "", []byte("grant_type=authorization_code&code=c"), h, false)
		f.Add(uint8(0), "", []byte("client_id=app-1&client_secret=s"), h, false)
	}
	f.Add(uint8(4), "application/x-www-form-urlencoded; charset", []byte("code=c"), "", false)
	f.Add(uint8(4), "multipart/form-data; boundary=x", []byte("--x\r\n"), "", true)

	newReq := func(ct string, body []byte, auth string) *http.Request {
		r, err := http.NewRequest(http.MethodPost, "/oauth/token", bytes.NewReader(body))
		if err != nil {
			panic(err)
		}
		r.Header["Content-Type"] = []string{ct}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		return r
	}
	f.Fuzz(func(t *testing.T, ctSel uint8, garbage string, body []byte, auth string, allowJSON bool) {
		ct := [...]string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded;charset=UTF-8",
			"application/json", "application/json; charset=utf-8", garbage}[ctSel%5]
		tr, e := parseTokenRequest(newReq(ct, body, auth), allowJSON)

		// The one-pass form reader answers as url.ParseQuery would.
		got, gerr := parseFormBody(string(body))
		want, werr := formByParseQuery(string(body))
		if fmt.Sprint(gerr) != fmt.Sprint(werr) || got != want {
			t.Fatalf("form %q: read %q, %v; url.ParseQuery's reading %q, %v", body, got, gerr, want, werr)
		}

		if e != nil {
			if tr != nil {
				t.Fatal("returned both a request and an error")
			}
			if e.Code == "" || e.Description == "" || !utf8.ValidString(e.Description) {
				t.Fatalf("error without a code or a valid description: %+v", e)
			}
			status := e.Status
			if e.Basic && e.Code == apierror.InvalidClient {
				status = http.StatusUnauthorized
				if auth == "" {
					t.Fatal("a Basic authentication failure without an Authorization header")
				}
			}
			if status != http.StatusBadRequest && status != http.StatusUnauthorized {
				t.Fatalf("status %d for %v", status, e)
			}
			return
		}

		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/x-www-form-urlencoded" || mt == "application/json" && allowJSON) {
			t.Fatalf("accepted Content-Type %q (allowJSON %v)", ct, allowJSON)
		}
		fields := []string{tr.GrantType, tr.ClientID, tr.ClientSecret, tr.Code, tr.RedirectURI,
			tr.CodeVerifier, tr.RefreshToken, tr.Scope, tr.Token}
		for _, v := range fields {
			if !utf8.ValidString(v) {
				t.Fatalf("field %q is not valid UTF-8", v)
			}
		}
		if tr.Basic != (auth != "") {
			t.Fatalf("Basic is %v with Authorization %q", tr.Basic, auth)
		}
		// The same body without the header must parse to the same request,
		// with no client_secret of its own when Basic was used.
		bodyOnly, e := parseTokenRequest(newReq(ct, body, ""), allowJSON)
		if e != nil {
			t.Fatalf("the body alone is refused (%v) but accepted with Authorization", e)
		}
		if !tr.Basic {
			if !reflect.DeepEqual(bodyOnly, tr) {
				t.Fatalf("parses differ: %+v vs %+v", bodyOnly, tr)
			}
			return
		}
		id, secret, ok := parseBasic(auth)
		if !ok || tr.ClientID != id || tr.ClientSecret != secret || id == "" {
			t.Fatalf("Basic request %+v does not match its header %q", tr, auth)
		}
		if bodyOnly.ClientSecret != "" {
			t.Fatal("client_secret taken from both the body and the Basic header")
		}
		if bodyOnly.ClientID != "" && bodyOnly.ClientID != id {
			t.Fatalf("body client_id %q overridden by Basic %q", bodyOnly.ClientID, id)
		}
		bodyOnly.ClientID, bodyOnly.ClientSecret, bodyOnly.Basic = tr.ClientID, tr.ClientSecret, true
		if !reflect.DeepEqual(bodyOnly, tr) {
			t.Fatalf("parses differ: %+v vs %+v", bodyOnly, tr)
		}
	})
}

// formByParseQuery reads a form's token parameters through
// url.ParseQuery, as parseFormBody did before it read them in one pass:
// the reference it is held to.
func formByParseQuery(body string) (params, error) {
	vals, err := url.ParseQuery(body)
	if err != nil {
		return params{}, errors.New("the form body is malformed")
	}
	var out params
	for i, k := range tokenParams {
		switch v := vals[k]; len(v) {
		case 0:
		case 1:
			out[i] = v[0]
		default:
			return params{}, errors.New("parameter " + k + " is repeated")
		}
	}
	return out, nil
}

// TestParamIndex: paramIndex and the p constants name tokenParams' order.
func TestParamIndex(t *testing.T) {
	for i, k := range tokenParams {
		if paramIndex(k) != i {
			t.Errorf("paramIndex(%q) = %d, want %d", k, paramIndex(k), i)
		}
	}
	if paramIndex("Code") != -1 || paramIndex("") != -1 {
		t.Error("paramIndex takes a name that is not a parameter")
	}
	if tokenParams[pAssertionType] != "client_assertion_type" || tokenParams[pGrantType] != "grant_type" {
		t.Error("the p constants do not follow tokenParams")
	}
}

// encodeBasic encodes client credentials as RFC 6749 §2.3.1 asks.
func encodeBasic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

func FuzzParseBasic(f *testing.F) {
	for _, c := range [][3]string{
		{encodeBasic("app-1", "secret"), "app-1", "secret"},
		{encodeBasic("a:b", "c:d e+f%"), "a:b", "c:d e+f%"},
		{"basic " + base64.StdEncoding.EncodeToString([]byte("app-1:")), "app-1", ""},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte(":secret")), "", "secret"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("%zz:x")), "ü", "\xff"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("%ff:x")), "\xff\xfe", "x"},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")), "a\tb", "a,b"},
		{"Basic  " + base64.RawStdEncoding.EncodeToString([]byte("app-1:s")) + " ", "", ""},
		{"Basic\t" + base64.StdEncoding.EncodeToString([]byte("app-1:s")), "ñandú", "日本"},
		{"Bearer at-1.x", strings.Repeat("x", 4096), strings.Repeat("%", 4096)},
		{"Basic !!!", "+", " "},
		{"", "", ""},
	} {
		f.Add(c[0], c[1], c[2])
	}
	f.Fuzz(func(t *testing.T, header, id, secret string) {
		// Any header: an accepted pair is a non-empty id and valid UTF-8,
		// and encodes back to a header that decodes to the same pair.
		gid, gsecret, ok := parseBasic(header)
		if !ok {
			if gid != "" || gsecret != "" {
				t.Fatalf("refused %q but returned %q, %q", header, gid, gsecret)
			}
		} else {
			if gid == "" || !utf8.ValidString(gid) || !utf8.ValidString(gsecret) {
				t.Fatalf("accepted %q as %q, %q", header, gid, gsecret)
			}
			if id2, s2, ok2 := parseBasic(encodeBasic(gid, gsecret)); !ok2 || id2 != gid || s2 != gsecret {
				t.Fatalf("%q, %q does not survive re-encoding: %q, %q, %v", gid, gsecret, id2, s2, ok2)
			}
		}
		// Round trip: RFC 6749 §2.3.1 credentials decode to what was encoded.
		want := id != "" && utf8.ValidString(id) && utf8.ValidString(secret)
		for _, h := range []string{encodeBasic(id, secret), "basic" + strings.TrimPrefix(encodeBasic(id, secret), "Basic")} {
			rid, rsecret, rok := parseBasic(h)
			if rok != want {
				t.Fatalf("parseBasic(encode(%q, %q)) ok=%v, want %v", id, secret, rok, want)
			}
			if rok && (rid != id || rsecret != secret) {
				t.Fatalf("encode(%q, %q) decoded to %q, %q", id, secret, rid, rsecret)
			}
		}
	})
}

func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{
		"read:products write:products",
		"read:products,write:products",
		"read:products, write:products,,read:products",
		"a\tb\nc\r\nd\u00a0e\u0085f\u2003g",
		" , ,\t,",
		"",
		"a a a a",
		"\xff\xfe \xff",
		"\xc2 \x85",
		"read:products%20write:products",
		strings.Repeat("s ", 5000),
		strings.Repeat("x", 70000),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// testdata/fuzz/FuzzParseScopes holds 64 KiB of distinct names,
		// which took ~0.7 s when repeats were found with slices.Contains;
		// BenchmarkParseScopesDistinct measures it (speed is for benchmarks,
		// not for assertions on the clock).
		out := parseScopes(s)
		seen := make(map[string]bool, len(out))
		for _, sc := range out {
			if sc == "" {
				t.Fatalf("empty scope in %q", out)
			}
			if strings.ContainsFunc(sc, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
				t.Fatalf("scope %q holds a separator", sc)
			}
			if seen[sc] {
				t.Fatalf("scope %q repeated in %q", sc, out)
			}
			seen[sc] = true
			if !strings.Contains(s, sc) {
				t.Fatalf("scope %q is not in the input", sc)
			}
		}
		if again := parseScopes(strings.Join(out, " ")); !slices.Equal(again, out) {
			t.Fatalf("re-parsing %q gives %q", out, again)
		}
	})
}

// FuzzScopeGrants checks that the Multivende scopes object, written by
// hand for speed (scopeGrants.MarshalJSON), is byte for byte what
// encoding/json writes for the same object as a map of maps, whatever the
// scope names and resource ids: plain ones take the fast path, any other
// falls back to encoding/json. Inputs are a token's scopes and, for some,
// the resource ids they are limited to, separated by spaces, "|" and ",".
func FuzzScopeGrants(f *testing.F) {
	for _, seed := range []string{
		"read:products write:orders|read:products=W1,W2",
		"read:products read:products|read:products=all,W1,W1",
		"",
		"a b c|b=zeta,ALL,all",
		"r\u00e9ad <script>|<script>=\"q\"",
		"read:products|read:products=",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		scopesPart, limitsPart, _ := strings.Cut(in, "|")
		scopes := strings.Fields(scopesPart)
		grant := store.ResourceGrant{}
		for _, l := range strings.Fields(limitsPart) {
			sc, ids, _ := strings.Cut(l, "=")
			grant[sc] = strings.Split(ids, ",")
		}
		g := grantedScopes(scopes, grant)
		got, err := json.Marshal(g)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		want, err := json.Marshal(g.asMap())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", in, got, want)
		}
	})
}

// FuzzAnswerJSON checks that the check answers that write their own JSON
// (selfEncoding: introspection's, /api/d/info's) write what encoding/json
// writes for them, byte for byte, and that they take that path whenever
// their strings are plain, so the speed is not lost to a silent fallback.
// The input's fields are separated by "|": scope, client id, merchant id,
// issuer, connection id, DPoP thumbprint ("" for none), merchant name,
// email and app name.
func FuzzAnswerJSON(f *testing.F) {
	for _, seed := range []string{
		"read:products write:orders|app-1|m-1|https://auth.example.com|c-1||Tienda|a@b.co|App",
		"read:products|app|m|http://127.0.0.1:8080|c|jkt-Abc_09|Tienda Ñandú|<a>@b|\"App\" & co",
		"||||||||",
		"a\x00b|\\|\u2028|&amp;|é|x|y|z|w",
		"read:products|app|m|https://auth.example.com|c|jkt|Tienda|<a>@b.co|App",
		"read:products|app|m|https://a.example/?x=1&y=2|c|jkt|Tienda|a@b.co|App",
	} {
		f.Add(seed, int64(1765155723), true)
	}
	f.Fuzz(func(t *testing.T, in string, exp int64, active bool) {
		p := strings.Split(in, "|")
		for len(p) < 9 {
			p = append(p, "")
		}
		scope, client, sub, iss, conn, jkt, name, email, appName := p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
		// Plain: ASCII that encoding/json writes between quotes as it is.
		// (Other text it also leaves alone goes the slow way: the fast
		// one is for ids, names of scopes, URLs.)
		plain := func(ss ...string) bool {
			for _, s := range ss {
				if b, _ := json.Marshal(s); string(b) != `"`+s+`"` || strings.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf }) {
					return false
				}
			}
			return true
		}
		check := func(what string, v selfEncoding, wantFast bool) {
			t.Helper()
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			got, ok := v.appendJSON([]byte("prefix"))
			if ok != wantFast {
				t.Fatalf("%s %q: fast path %v, want %v", what, in, ok, wantFast)
			}
			if ok && string(got) != "prefix"+string(want) {
				t.Fatalf("%s %q:\n got %s\nwant prefix%s", what, in, got, want)
			}
		}
		var cnf *confirmation
		if jkt != "" {
			cnf = &confirmation{JKT: jkt}
		}
		check("introspection", introspection{Active: active, Scope: scope, ClientID: client, Sub: sub, Exp: exp,
			Iat: exp - 21600, TokenType: "DPoP", Iss: iss, ConnectionID: conn, MerchantAppID: conn, Cnf: cnf},
			plain(scope, client, sub, iss, conn, jkt))
		check("inactive", inactive{}, true)
		scopes := strings.Fields(scope)
		keysPlain := true
		for _, sc := range scopes {
			keysPlain = keysPlain && plainValue(sc)
		}
		check("info", infoAnswer{OauthClientID: client, MerchantID: sub, CreatedByID: sub, OwnerID: sub, MerchantAppID: conn,
			App: infoApp{ID: client, Name: appName}, Merchant: infoMerchant{ID: sub, Name: name, Email: email},
			Scopes: grantedScopes(scopes, nil), Scope: scope, ExpiresAt: iss},
			keysPlain && plain(client, sub, conn, appName, name, email, scope, iss))
		// A resource grant is always encoding/json's to write.
		details := []authorizationDetail{{Type: "warehouse", Actions: []string{"read:stock"}, Identifier: "W1"}}
		check("introspection with details", introspection{Scope: scope, Details: details}, false)
		check("info with details", infoAnswer{Scope: scope, Details: details}, false)
	})
}
