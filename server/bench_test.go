package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
)

// BenchmarkParseScopesDistinct parses a body-sized scope of distinct
// names: linear work, where a quadratic repeat check took ~0.7 s.
func BenchmarkParseScopesDistinct(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < maxBody-16; i++ {
		sb.WriteString("s" + strconv.Itoa(i) + " ")
	}
	in := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if len(parseScopes(in)) == 0 {
			b.Fatal("no scopes")
		}
	}
}

// benchTokenRequest is a code exchange as a client sends it, in the RFC
// 6749 dialect (form, client_secret_basic) or the Multivende one (JSON).
func benchTokenRequest(b *testing.B, jsonBody bool) *http.Request {
	b.Helper()
	code := store.NewCredential(store.KindCode, store.NewID())
	clientID, secret := store.NewID(), store.NewSecret()
	var r *http.Request
	if jsonBody {
		body, _ := json.Marshal(map[string]string{"client_id": clientID, "client_secret": secret,
			"grant_type": "authorization_code", "code": code})
		r = httptest.NewRequest(http.MethodPost, "/oauth/access-token", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		body := url.Values{"grant_type": {"authorization_code"}, "code": {code}}.Encode()
		r = httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(clientID, secret)
	}
	return r
}

func benchParse(b *testing.B, jsonBody bool) {
	r := benchTokenRequest(b, jsonBody)
	body, _ := io.ReadAll(r.Body)
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if _, oe := parseTokenRequest(r, jsonBody); oe != nil {
			b.Fatal(oe)
		}
	}
}

// BenchmarkParseTokenRequestForm parses an RFC 6749 code exchange: form
// body and Basic credentials.
func BenchmarkParseTokenRequestForm(b *testing.B) { benchParse(b, false) }

// BenchmarkParseTokenRequestJSON parses a Multivende code exchange.
func BenchmarkParseTokenRequestJSON(b *testing.B) { benchParse(b, true) }

func benchIssued() *store.Issued {
	conn := store.NewID()
	now := time.Now()
	return &store.Issued{TokenID: store.NewID(), ConnectionID: conn, MerchantID: store.NewID(), ClientID: store.NewID(),
		Scopes:      []string{"read:products", "write:products", "read:checkouts"},
		AccessToken: store.NewCredential(store.KindAccess, conn), RefreshToken: store.NewCredential(store.KindRefresh, conn),
		AccessExpiresAt: now.Add(6 * time.Hour), RefreshExpiresAt: now.Add(48 * time.Hour), IssuedAt: now}
}

// BenchmarkRenderRFCToken encodes the RFC 6749 token response.
func BenchmarkRenderRFCToken(b *testing.B) {
	iss := benchIssued()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(rfcResponse(iss, nil)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderMultivendeToken encodes the Multivende token response.
func BenchmarkRenderMultivendeToken(b *testing.B) {
	iss := benchIssued()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(multivendeResponse(iss)); err != nil {
			b.Fatal(err)
		}
	}
}
