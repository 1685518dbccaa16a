package consent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/apps/authorize?x=1":  "/apps/authorize?x=1",
		"/":                    "/",
		"":                     "/",
		"//evil.example.net/":  "/",
		"/\\evil.example.net/": "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"/ok\r\nSet-Cookie: x": "/",
		"/\t/evil.example":     "/",
		"/\n/evil.example":     "/",
		"/%09/evil.example":    "/%09/evil.example",
		"/\x7f/evil":           "/",
		"/a?b=c#d":             "/a?b=c#d",
		// Dot segments resolved, so a prefix check holds (issue 14).
		"/admin/connections/../../login": "/login",
		"/admin/connections/./x?app=1":   "/admin/connections/x?app=1",
		"/admin/connections/?app=1":      "/admin/connections/?app=1",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSessionStore(t *testing.T) {
	st := store.New(redistest.Start(t).Client(t), store.Options{})
	ss := NewSessionStore(st, []byte(strings.Repeat("k", 32)), time.Hour, true)

	// Save a session and read it back through its cookie.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	sess, err := ss.New(r, sessionName)
	if err != nil || !sess.IsNew {
		t.Fatalf("new session: %v", err)
	}
	sess.Values[keyMerchant] = "m-1"
	if err := ss.Save(r, w, sess); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie flags: %+v", cookie)
	}
	if strings.Contains(cookie.Value, sess.ID) {
		t.Fatal("the cookie carries the raw session id")
	}
	r2 := httptest.NewRequest(http.MethodGet, "/", nil)
	r2.AddCookie(cookie)
	got, err := ss.New(r2, sessionName)
	if err != nil || got.IsNew || got.Values[keyMerchant] != "m-1" {
		t.Fatalf("reload: %v %+v", err, got.Values)
	}

	// A forged cookie is no session.
	r3 := httptest.NewRequest(http.MethodGet, "/", nil)
	r3.AddCookie(&http.Cookie{Name: sessionName, Value: cookie.Value[:len(cookie.Value)-4] + "AAAA"})
	if forged, _ := ss.New(r3, sessionName); !forged.IsNew || len(forged.Values) != 0 {
		t.Fatal("a forged cookie loaded a session")
	}

	// Renew drops the old server-side record.
	oldID := got.ID
	if err := ss.Renew(r2, got); err != nil || got.ID != "" {
		t.Fatalf("renew: %v", err)
	}
	if _, err := st.LoadSession(context.Background(), oldID); err == nil {
		t.Fatal("the old session survived renewal")
	}
	r4 := httptest.NewRequest(http.MethodGet, "/", nil)
	r4.AddCookie(cookie)
	if stale, _ := ss.New(r4, sessionName); !stale.IsNew {
		t.Fatal("the old cookie still opens a session")
	}
}
