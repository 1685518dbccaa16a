package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"enlace/store/redistest"
)

type result struct {
	code           int
	stdout, stderr string
}

func runCmd(t *testing.T, environ []string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb, environ)
	return result{code, out.String(), errb.String()}
}

func TestAdminCommands(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}

	r := runCmd(t, environ, "", "app", "create", "--name", "Sync", "--redirect-uri", "https://a.example.com/cb",
		"--redirect-uri", "https://a.example.com/cb2", "--scopes", "read:products write:products", "--json")
	if r.code != 0 {
		t.Fatalf("app create: %d %s", r.code, r.stderr)
	}
	var app struct {
		ClientID     string   `json:"client_id"`
		ClientSecret string   `json:"client_secret"`
		RedirectURIs []string `json:"redirect_uris"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &app); err != nil || app.ClientID == "" || len(app.ClientSecret) < 43 || len(app.RedirectURIs) != 2 {
		t.Fatalf("app create output: %v %s", err, r.stdout)
	}
	stored := rdb.HGet(ctx, "app:"+app.ClientID, "secret").Val()
	if stored == "" || stored == app.ClientSecret {
		t.Fatal("the secret must be stored only as a digest")
	}
	r = runCmd(t, environ, "", "app", "create", "--name", "Plain", "--redirect-uri", "https://b.example.com/cb", "--scopes", "read:products")
	if r.code != 0 || !strings.Contains(r.stdout, "client_secret:") {
		t.Fatalf("app create (text): %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "app", "list"); r.code != 0 || !strings.Contains(r.stdout, app.ClientID) || strings.Contains(r.stdout, app.ClientSecret) {
		t.Fatalf("app list: %s", r.stdout)
	}

	r = runCmd(t, environ, "s3cret pass\n", "merchant", "create", "--email", "ana@tienda.cl", "--name", "Ana", "--password-stdin", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"email": "ana@tienda.cl"`) {
		t.Fatalf("merchant create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, environ, "", "merchant", "list", "--json"); r.code != 0 || !strings.Contains(r.stdout, "ana@tienda.cl") {
		t.Fatalf("merchant list: %s", r.stdout)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"unknown scope", "", "unknown scope", []string{"app", "create", "--name", "X", "--redirect-uri", "https://x.example.com/cb", "--scopes", "read:everything"}},
		{"relative URI", "", "not absolute", []string{"app", "create", "--name", "X", "--redirect-uri", "/cb", "--scopes", "read:products"}},
		{"fragment", "", "fragment", []string{"app", "create", "--name", "X", "--redirect-uri", "https://x.example.com/cb#top", "--scopes", "read:products"}},
		{"no redirect", "", "redirect URI", []string{"app", "create", "--name", "X", "--scopes", "read:products"}},
		{"duplicate email", "pw\n", "already exists", []string{"merchant", "create", "--email", "ANA@tienda.cl", "--name", "Other", "--password-stdin"}},
		{"empty password", "\n", "password is empty", []string{"merchant", "create", "--email", "new@tienda.cl", "--name", "New", "--password-stdin"}},
		{"no --password-stdin", "", "--password-stdin", []string{"merchant", "create", "--email", "new@tienda.cl", "--name", "New"}},
		{"bad email", "pw\n", "not a valid email", []string{"merchant", "create", "--email", "nope", "--name", "New", "--password-stdin"}},
		{"unknown flag", "", "flag provided but not defined", []string{"app", "create", "--colour", "red"}},
	} {
		r := runCmd(t, environ, c.stdin, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a non-zero exit saying %q, got %d %q", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	if r := runCmd(t, nil, "", "app", "list"); r.code == 0 || !strings.Contains(r.stderr, "ENLACE_REDIS_ADDR") {
		t.Fatalf("admin command without Redis: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, environ, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "usage") {
		t.Fatalf("unknown command: %d %s", r.code, r.stderr)
	}
}

// TestServeEmbedded runs `enlace serve` with no Redis configured: it starts
// the embedded Redis, seeds the demo, prints an authorize URL that works,
// and exits 0 when stopped.
func TestServeEmbedded(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), pw, io.Discard, []string{"ENLACE_HTTP_ADDR=" + addr})
		pw.Close()
	}()
	// The banner is printed once the listener is open.
	var authorize string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "http://"+addr+"/apps/authorize?") {
			authorize = line
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if authorize == "" {
		t.Fatal("serve printed no authorize URL")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(authorize)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
		t.Fatalf("the demo authorize URL: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestServeWithRedis: with ENLACE_REDIS_ADDR set, serve uses that Redis and
// seeds nothing.
func TestServeWithRedis(t *testing.T) {
	srv := redistest.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	var stdout bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), &stdout, pw,
			[]string{"ENLACE_HTTP_ADDR=" + addr, "ENLACE_REDIS_ADDR=" + srv.Addr})
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	listening := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "enlace listening") {
			listening = true
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if !listening {
		t.Fatal("serve did not start")
	}
	res, err := http.Get("http://" + addr + "/apps/authorize?client_id=nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown app: %d", res.StatusCode)
	}
	if n := srv.Client(t).DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("serve seeded %d keys into a configured Redis", n)
	}
	cancel()
	if code := <-done; code != 0 || stdout.Len() != 0 {
		t.Fatalf("serve exited %d, printed %q", code, stdout.String())
	}
}
