package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// TestAnswerJSON: answerJSON writes json.Marshal's bytes and the JSON
// media type, for answers that write themselves and for those that fall
// back to encoding/json, also when its pooled buffer was used before by a
// longer or a shorter answer.
func TestAnswerJSON(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{}
	answers := []any{
		introspection{Active: true, Scope: "read:products", ClientID: "app-1", Sub: "m-1", Exp: 2, Iat: 1,
			TokenType: "DPoP", Iss: "https://auth.example.com", ConnectionID: "c-1", MerchantAppID: "c-1",
			Cnf: &confirmation{JKT: "abc_-"}},
		inactive{},
		// Not plain: encoding/json writes it, escapes and all.
		introspection{Active: true, Scope: "read:products", Iss: "https://a.example/?x=1&y=<2>"},
		infoAnswer{OauthClientID: "app-1", MerchantID: "m-1", App: infoApp{ID: "app-1", Name: "App"},
			Merchant: infoMerchant{ID: "m-1", Name: "Tienda Ñandú", Email: "a@b.co"},
			Scopes:   grantedScopes([]string{"write:orders", "read:products"}, nil), Scope: "read:products write:orders"},
		infoAnswer{OauthClientID: "app-1", Scopes: grantedScopes([]string{"read:products"}, nil),
			Details: []authorizationDetail{{Type: "warehouse", Actions: []string{"read:stock"}, Identifier: "W1"}}},
		struct {
			A string `json:"a"`
		}{A: "not a selfEncoding"},
	}
	// Twice over, so every answer also meets a buffer another one used.
	for round := range 2 {
		for i, v := range answers {
			rec := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(rec)
			c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
			s.answerJSON(c, http.StatusCreated, v)
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != apierror.JSONType || rec.Body.String() != string(want) {
				t.Errorf("round %d, answer %d: %d %q %s, want %s", round, i, rec.Code, rec.Header().Get("Content-Type"), rec.Body, want)
			}
		}
	}
}

// TestReadBody: a body is read whole up to maxBody, whatever length it
// declared and however its reader delivers it; past maxBody, or when the
// reader fails, it is refused.
func TestReadBody(t *testing.T) {
	for _, n := range []int{0, 1, 511, 512, 513, 1023, 1024, 1025, maxBodyPrealloc, maxBodyPrealloc + 1, maxBody - 1, maxBody} {
		body := strings.Repeat("a", n)
		for _, declared := range []int64{int64(n), -1, 0, int64(n) + 100, maxBody} {
			for name, r := range map[string]io.Reader{
				"whole":     strings.NewReader(body),
				"byte-wise": iotest.OneByteReader(strings.NewReader(body)),
				"half":      iotest.HalfReader(strings.NewReader(body)),
				"eof-early": iotest.DataErrReader(strings.NewReader(body)),
			} {
				got, err := readBody(io.NopCloser(r), declared)
				if err != nil || string(got) != body {
					t.Fatalf("%d bytes declared %d, %s: %d bytes, %v", n, declared, name, len(got), err)
				}
			}
		}
	}
	var tooBig *http.MaxBytesError
	for _, declared := range []int64{maxBody + 1, -1, 10} {
		if _, err := readBody(io.NopCloser(strings.NewReader(strings.Repeat("a", maxBody+1))), declared); !errors.As(err, &tooBig) {
			t.Errorf("a body of maxBody+1 bytes (declared %d): %v, want a MaxBytesError", declared, err)
		}
	}
	if _, err := readBody(io.NopCloser(iotest.TimeoutReader(strings.NewReader("grant_type=x"))), -1); err == nil {
		t.Error("a reader that fails part-way gave a body")
	}
	// Through parseTokenRequest: too large is said as such, whatever the
	// media type claims.
	for _, ct := range []string{"application/x-www-form-urlencoded", "text/plain"} {
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader("code="+strings.Repeat("a", maxBody)))
		r.Header.Set("Content-Type", ct)
		if _, e := parseTokenRequest(r, false); e == nil || e.Description != "the request body is too large" {
			t.Errorf("an oversized %s body: %v", ct, e)
		}
	}
}
