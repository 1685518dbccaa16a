package safefetch_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/server/safefetch"
)

// testServer is an httptest TLS server on loopback that counts the
// connections made to it, so a test can prove that a refusal came before
// any connection.
type testServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newTestServer(t *testing.T, h http.HandlerFunc) *testServer {
	t.Helper()
	ts := &testServer{}
	ts.Server = httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			ts.conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts
}

// allowing is a fetcher that lets through ts's one address, and trusts its
// certificate.
func allowing(ts *testServer, opts safefetch.Options) *safefetch.Fetcher {
	addr := netip.MustParseAddrPort(ts.Listener.Addr().String())
	opts.Allow = func(a netip.AddrPort) bool { return a == addr }
	opts.RootCAs = ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return safefetch.New(opts)
}

func TestFetch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	release := make(chan struct{})
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("hello"))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		case "/slow":
			<-release // never answers while the test runs
		}
	})
	t.Cleanup(func() { close(release) }) // before ts.Close, which waits for the handler
	f := allowing(ts, safefetch.Options{MaxBytes: 1024, Timeout: 200 * time.Millisecond})

	b, ct, err := f.Get(ctx, ts.URL+"/ok")
	if err != nil || string(b) != "hello" || ct != "text/plain" {
		t.Fatalf("get: %q %q %v", b, ct, err)
	}
	if _, _, err := f.Get(ctx, ts.URL+"/big"); !errors.Is(err, safefetch.ErrTooLarge) {
		t.Fatalf("a body over the bound: %v", err)
	}
	if _, _, err := f.Get(ctx, ts.URL+"/redirect"); !errors.Is(err, safefetch.ErrRefused) {
		t.Fatalf("a redirect is followed: %v", err)
	}
	if _, _, err := f.Get(ctx, ts.URL+"/missing"); err == nil || errors.Is(err, safefetch.ErrRefused) {
		t.Fatalf("a 404: %v", err)
	}
	if _, _, err := f.Get(ctx, ts.URL+"/slow"); err == nil {
		t.Fatal("a server that never answers: no timeout")
	}
}

// TestRefusedBeforeConnecting: the production rules refuse the loopback
// test server, by IP literal (before dialling) and by a name that resolves
// to it (in the dialer's Control, before the connection), and every URL
// that is not https.
func TestRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := newTestServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("x")) })
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	f := safefetch.New(safefetch.Options{RootCAs: ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs})
	for _, u := range []string{
		ts.URL + "/logo.png",                      // https://127.0.0.1:port
		"https://localhost:" + port + "/logo.png", // a name: resolved, then refused at the dial
		"https://[::1]:" + port + "/",
		"https://[::ffff:127.0.0.1]:" + port + "/",
		"https://10.1.2.3/", "https://169.254.169.254/latest/meta-data/", "https://0.0.0.0:" + port + "/",
		"http://example.com/logo.png", "ftp://example.com/x", "https://user:pw@example.com/", "/relative",
	} {
		if _, _, err := f.Get(ctx, u); !errors.Is(err, safefetch.ErrRefused) {
			t.Errorf("%s: %v", u, err)
		}
	}
	if n := ts.conns.Load(); n != 0 {
		t.Fatalf("%d connections reached the server", n)
	}
}

func TestPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.9.1": false, "::1": false, "10.0.0.1": false, "172.16.5.4": false,
		"192.168.1.1": false, "169.254.169.254": false, "fe80::1": false, "fc00::1": false, "fd12::1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false, "255.255.255.255": false,
		"100.64.0.1": false, "::ffff:10.0.0.1": false, "::ffff:127.0.0.1": false, "64:ff9b::a00:1": false,
		"2002:7f00:1::": false, "198.18.0.1": false, "192.0.2.1": false,
	} {
		if got := safefetch.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v", addr, got)
		}
	}
}
