package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
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
	t.Parallel()
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
	stored := rdb.HGet(ctx, store.AppKey(app.ClientID), "secret").Val()
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
	// One of the platform's own apps: may sign merchants in with their
	// password, needs no redirect URI.
	r = runCmd(t, environ, "", "app", "create", "--name", "Tienda web", "--first-party", "--scopes", "openid profile email voucher", "--json")
	var fp struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
		FirstParty   bool   `json:"first_party"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &fp) != nil || !fp.FirstParty || fp.ClientSecret == "" {
		t.Fatalf("app create --first-party: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if rdb.HGet(ctx, store.AppKey(fp.ClientID), "first_party").Val() != "1" {
		t.Fatal("the app is not stored as first-party")
	}
	if r := runCmd(t, environ, "", "app", "list"); !strings.Contains(r.stdout, "first-party") {
		t.Fatalf("app list does not show the first-party app: %s", r.stdout)
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
		{"public first-party", "", "must be confidential", []string{"app", "create", "--name", "X", "--first-party", "--public", "--scopes", "openid"}},
		{"duplicate email", "long enough pw\n", "already exists", []string{"merchant", "create", "--email", "ANA@tienda.cl", "--name", "Other", "--password-stdin"}},
		{"empty password", "\n", "password is empty", []string{"merchant", "create", "--email", "new@tienda.cl", "--name", "New", "--password-stdin"}},
		{"no --password-stdin", "", "--password-stdin", []string{"merchant", "create", "--email", "new@tienda.cl", "--name", "New"}},
		{"bad email", "long enough pw\n", "not a valid email", []string{"merchant", "create", "--email", "nope", "--name", "New", "--password-stdin"}},
		{"unknown flag", "", "unknown flag: --colour", []string{"app", "create", "--colour", "red"}},
		{"short password", "seven77\n", "at least 8 characters", []string{"merchant", "create", "--email", "new@tienda.cl", "--name", "New", "--password-stdin"}},
	} {
		r := runCmd(t, environ, c.stdin, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a non-zero exit saying %q, got %d %q", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	if r := runCmd(t, []string{"ENLACE_EMBEDDED_DIR=" + t.TempDir()}, "", "app", "list"); r.code == 0 || !strings.Contains(r.stderr, "ENLACE_REDIS_ADDR") {
		t.Fatalf("admin command without Redis: %d %s", r.code, r.stderr)
	}
	if r := runCmd(t, environ, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, "usage") {
		t.Fatalf("unknown command: %d %s", r.code, r.stderr)
	}
}

// TestConnectionCommands lists and revokes connections made through the
// store, as the token endpoint makes them.
func TestConnectionCommands(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}

	createApp := func(name, uri string) string {
		t.Helper()
		r := runCmd(t, environ, "", "app", "create", "--name", name, "--redirect-uri", uri,
			"--scopes", "read:products write:products", "--json")
		var app struct {
			ClientID string `json:"client_id"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &app) != nil || app.ClientID == "" {
			t.Fatalf("app create: %d %s %s", r.code, r.stdout, r.stderr)
		}
		return app.ClientID
	}
	appA, appB := createApp("Sync", "https://a.example.com/cb"), createApp("Ship", "https://b.example.com/cb")
	m1, err := st.CreateMerchant(ctx, "ana@tienda.cl", "Ana", "pw-ana-long")
	if err != nil {
		t.Fatal(err)
	}
	m2, err := st.CreateMerchant(ctx, "bea@tienda.cl", "Bea", "pw-bea-long")
	if err != nil {
		t.Fatal(err)
	}
	uris := map[string]string{appA: "https://a.example.com/cb", appB: "https://b.example.com/cb"}
	// connect approves and, unless pending, exchanges the code; connections
	// are a few milliseconds apart so that "newest first" is well defined.
	connect := func(clientID, merchantID string, pending bool, scopes ...string) (string, string) {
		t.Helper()
		time.Sleep(3 * time.Millisecond)
		conn, code, err := st.Approve(ctx, store.Grant{ClientID: clientID, MerchantID: merchantID,
			RedirectURI: uris[clientID], Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		if pending {
			return conn.ID, ""
		}
		iss, err := st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: clientID, RedirectURI: uris[clientID]})
		if err != nil {
			t.Fatal(err)
		}
		if iss.ConnectionID != conn.ID {
			t.Fatalf("exchange issued for %s, want %s", iss.ConnectionID, conn.ID)
		}
		return conn.ID, iss.AccessToken
	}
	c1, tok1 := connect(appA, m1.ID, false, "read:products")
	c2, tok2 := connect(appA, m1.ID, false, "read:products", "write:products")
	c3, tok3 := connect(appB, m2.ID, false, "read:products")
	c4, _ := connect(appB, m1.ID, true, "write:products")

	type listed struct {
		ID         string   `json:"id"`
		ClientID   string   `json:"client_id"`
		MerchantID string   `json:"merchant_id"`
		Scopes     []string `json:"scopes"`
		Status     string   `json:"status"`
		CreatedAt  string   `json:"created_at"`
		LastUsed   *string  `json:"last_used"`
	}
	list := func(args ...string) []listed {
		t.Helper()
		r := runCmd(t, environ, "", append([]string{"connection", "list", "--json"}, args...)...)
		var out struct {
			Data       []listed `json:"data"`
			Total      int      `json:"total"`
			NextCursor *string  `json:"next_cursor"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &out) != nil || out.Data == nil || out.NextCursor != nil {
			t.Fatalf("connection list %v: %d %q %s", args, r.code, r.stdout, r.stderr)
		}
		return out.Data
	}
	ids := func(ls []listed) string {
		var s []string
		for _, l := range ls {
			s = append(s, l.ID)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		// The most recently used first (latest expiry): the exchanged ones
		// by exchange, then the pending one, whose code lapses first.
		{nil, []string{c3, c2, c1, c4}},
		{[]string{"--merchant", m1.ID}, []string{c2, c1, c4}},
		{[]string{"--app", appA}, []string{c2, c1}},
		{[]string{"--merchant", m1.ID, "--app", appB}, []string{c4}},
		{[]string{"--merchant", m2.ID, "--app", appA}, nil},
		{[]string{"--app", "no-such-app"}, nil},
	} {
		if got, want := ids(list(c.args...)), strings.Join(c.want, " "); got != want {
			t.Errorf("connection list %v: got [%s], want [%s] (most recently used first)", c.args, got, want)
		}
	}
	// Page by page: --limit, then the printed cursor.
	r0 := runCmd(t, environ, "", "connection", "list", "--json", "--limit", "3")
	var first struct {
		Data       []listed `json:"data"`
		Total      int      `json:"total"`
		NextCursor string   `json:"next_cursor"`
	}
	if r0.code != 0 || json.Unmarshal([]byte(r0.stdout), &first) != nil || len(first.Data) != 3 || first.Total != 4 || first.NextCursor == "" {
		t.Fatalf("connection list --limit 3: %d %s %s", r0.code, r0.stdout, r0.stderr)
	}
	if got := ids(list("--cursor", first.NextCursor)); got != c4 {
		t.Errorf("the page after --limit 3: [%s], want [%s]", got, c4)
	}
	if r := runCmd(t, environ, "", "connection", "list", "--limit", "3"); r.code != 0 || !strings.Contains(r.stderr, "--cursor "+first.NextCursor) {
		t.Errorf("connection list (text) does not say how to get the next page: %s", r.stderr)
	}
	for _, bad := range [][]string{{"--cursor", "garbage!"}, {"--limit", "0"}, {"--limit", "201"}} {
		if r := runCmd(t, environ, "", append([]string{"connection", "list"}, bad...)...); r.code == 0 {
			t.Errorf("connection list %v succeeded: %s", bad, r.stdout)
		}
	}

	all := list()
	byID := map[string]listed{}
	for _, l := range all {
		byID[l.ID] = l
	}
	if l := byID[c2]; l.ClientID != appA || l.MerchantID != m1.ID || strings.Join(l.Scopes, " ") != "read:products write:products" ||
		l.Status != string(store.StatusActive) || l.LastUsed == nil {
		t.Errorf("connection %s listed as %+v", c2, l)
	}
	for _, l := range all {
		created, err := time.Parse(time.RFC3339, l.CreatedAt)
		if err != nil || time.Since(created) > time.Minute {
			t.Errorf("created_at %q: %v", l.CreatedAt, err)
		}
		if l.LastUsed != nil {
			if _, err := time.Parse(time.RFC3339, *l.LastUsed); err != nil {
				t.Errorf("last_used %q: %v", *l.LastUsed, err)
			}
		}
	}
	if l := byID[c4]; l.Status != string(store.StatusPending) || l.LastUsed != nil {
		t.Errorf("the pending connection is listed as %+v (want no last_used)", l)
	}

	r := runCmd(t, environ, "", "connection", "list", "--app", appA)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 {
		t.Fatalf("connection list (text): %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, h := range []string{"ID", "APP", "MERCHANT", "SCOPES", "STATUS", "CREATED", "LAST USED"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header %q lacks %s", lines[0], h)
		}
	}
	if !strings.HasPrefix(lines[1], c2+" ") || !strings.HasPrefix(lines[2], c1+" ") ||
		!strings.Contains(lines[1], appA) || !strings.Contains(lines[1], m1.ID) || !strings.Contains(lines[1], "active") {
		t.Errorf("connection list (text), want %s then %s:\n%s", c2, c1, r.stdout)
	}
	for _, tok := range []string{tok1, tok2, tok3} {
		if strings.Contains(r.stdout, tok) {
			t.Fatal("connection list printed a token")
		}
	}

	// Revoke c2: it leaves the lists and its token dies; the others live.
	r = runCmd(t, environ, "", "connection", "revoke", c2)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked connection "+c2) || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("connection revoke: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if got := ids(list("--app", appA)); got != c1 {
		t.Errorf("after revoking %s, --app lists [%s]", c2, got)
	}
	if got := ids(list()); got != strings.Join([]string{c3, c1, c4}, " ") {
		t.Errorf("after revoking %s, the list is [%s]", c2, got)
	}
	if _, err := st.LookupAccess(ctx, tok2); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the revoked connection's access token: %v, want ErrNotFound", err)
	}
	for _, tok := range []string{tok1, tok3} {
		if _, err := st.LookupAccess(ctx, tok); err != nil {
			t.Errorf("another connection's token stopped working: %v", err)
		}
	}
	if c, err := st.GetConnection(ctx, c2); err != nil || c.Status != store.StatusRevoked || c.RevokedBy != "cli" {
		t.Errorf("revoked connection record: %+v %v", c, err)
	}
	// Revoking it again is no error.
	if r := runCmd(t, environ, "", "connection", "revoke", c2); r.code != 0 || !strings.Contains(r.stdout, "already revoked") {
		t.Errorf("second revoke: %d %q %s", r.code, r.stdout, r.stderr)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, want string
		args       []string
	}{
		{"unknown id", `no connection with id "no-such-connection"`, []string{"connection", "revoke", "no-such-connection"}},
		{"no id", "connection id", []string{"connection", "revoke"}},
		{"two ids", "connection id", []string{"connection", "revoke", c1, c3}},
		{"stray argument", "takes no arguments", []string{"connection", "list", "extra"}},
	} {
		r := runCmd(t, environ, "", c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a non-zero exit saying %q, got %d %q", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))
	if _, err := st.LookupAccess(ctx, tok1); err != nil {
		t.Errorf("a refused revoke touched another connection: %v", err)
	}
}

// TestAdminAccountCommands creates admin accounts and admin API keys.
func TestAdminAccountCommands(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	rdb := srv.Client(t)
	st := store.New(rdb, store.Options{})
	ctx := context.Background()
	environ := []string{"ENLACE_REDIS_ADDR=" + srv.Addr}

	r := runCmd(t, environ, "correct horse\n", "admin", "create", "--email", "ops@enlace.cl", "--password-stdin", "--json")
	var admin struct{ ID, Email string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &admin) != nil || admin.ID == "" || admin.Email != "ops@enlace.cl" {
		t.Fatalf("admin create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if a, err := st.AuthenticateAdmin(ctx, "ops@enlace.cl", "correct horse"); err != nil || a.ID != admin.ID {
		t.Fatalf("the new admin cannot log in: %v", err)
	}
	if _, err := st.AuthenticateMerchant(ctx, "ops@enlace.cl", "correct horse"); err == nil {
		t.Fatal("an admin account logs in as a merchant")
	}
	if r := runCmd(t, environ, "long enough pw\n", "admin", "create", "--email", "ops2@enlace.cl", "--password-stdin"); r.code != 0 || !strings.HasPrefix(r.stdout, "admin_id: ") {
		t.Fatalf("admin create (text): %d %q %s", r.code, r.stdout, r.stderr)
	}

	before := redistest.Snapshot(t, rdb)
	for _, c := range []struct {
		name, stdin, want string
		args              []string
	}{
		{"duplicate email", "long enough pw\n", "already exists", []string{"admin", "create", "--email", "OPS@enlace.cl", "--password-stdin"}},
		{"empty password", "\n", "password is empty", []string{"admin", "create", "--email", "new@enlace.cl", "--password-stdin"}},
		{"no stdin at all", "", "password is empty", []string{"admin", "create", "--email", "new@enlace.cl", "--password-stdin"}},
		{"no --password-stdin", "long enough pw\n", "--password-stdin", []string{"admin", "create", "--email", "new@enlace.cl"}},
		{"bad email", "long enough pw\n", "not a valid email", []string{"admin", "create", "--email", "nope", "--password-stdin"}},
		{"key without name", "", "--name", []string{"admin", "key", "create"}},
		{"key with blank name", "", "--name", []string{"admin", "key", "create", "--name", "  "}},
		{"admin alone", "", "usage", []string{"admin"}},
		{"admin key alone", "", "usage", []string{"admin", "key"}},
	} {
		r := runCmd(t, environ, c.stdin, c.args...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: want a non-zero exit saying %q, got %d %q", c.name, c.want, r.code, r.stderr)
		}
	}
	redistest.AssertUnchanged(t, before, redistest.Snapshot(t, rdb))

	r = runCmd(t, environ, "", "admin", "key", "create", "--name", "deploy bot")
	key, ok := strings.CutPrefix(strings.SplitN(r.stdout, "\n", 2)[0], "admin_key: ")
	if r.code != 0 || !ok || key == "" || !strings.Contains(r.stdout, "only its digest") {
		t.Fatalf("admin key create: %d %q %s", r.code, r.stdout, r.stderr)
	}
	r = runCmd(t, environ, "", "admin", "key", "create", "--name", "ci", "--json")
	var jk struct{ Name, Key string }
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &jk) != nil || jk.Name != "ci" || jk.Key == "" || jk.Key == key {
		t.Fatalf("admin key create --json: %d %q %s", r.code, r.stdout, r.stderr)
	}
	for name, k := range map[string]string{"deploy bot": key, "ci": jk.Key} {
		if a, err := st.AuthenticateAdminKey(ctx, k); err != nil || a.Name != name {
			t.Errorf("key %q is not accepted: %+v %v", name, a, err)
		}
	}
	if _, err := st.AuthenticateAdminKey(ctx, key+"x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a tampered key: %v", err)
	}
	for k, v := range redistest.Snapshot(t, rdb) {
		for _, plain := range []string{key, jk.Key, "correct horse"} {
			if strings.Contains(k, plain) || strings.Contains(v, plain) {
				t.Fatalf("redis key %s holds a plaintext secret", k)
			}
		}
	}
}

// TestServeEmbedded runs `enlace serve` with no Redis configured: it starts
// the embedded Redis, seeds the demo, prints an authorize URL that works,
// and exits 0 when stopped.
func TestServeEmbedded(t *testing.T) {
	t.Parallel()
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
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), pw, io.Discard, []string{"ENLACE_HTTP_ADDR=" + addr,
			"ENLACE_EMBEDDED_DIR=" + t.TempDir()})
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
// seeds nothing (its one write is the key-schema marker).
func TestServeWithRedis(t *testing.T) {
	t.Parallel()
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
	// serve sets the garbage collector's target (runtime.gc_percent,
	// config.yaml's 200, there being no GOGC in its environment); the
	// test's process is serve's, so set its own back afterwards.
	before := debug.SetGCPercent(100)
	debug.SetGCPercent(before)
	t.Cleanup(func() { debug.SetGCPercent(before) })
	sc := bufio.NewScanner(pr)
	listening := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "enlace listening") {
			listening = true
			if !strings.Contains(sc.Text(), `"gc_percent":200`) {
				t.Errorf("the listening line does not report runtime.gc_percent: %s", sc.Text())
			}
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
	// Its writes are the key-schema marker (store.CheckSchema), the
	// maintenance lease, which expires, and the shards' webhook outboxes,
	// empty, with the deliverers' consumer group.
	// (The lease is taken once the maintenance loop has started.)
	keys := srv.Client(t).Keys(context.Background(), "*").Val()
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, "outbox:{s"):
			if n := srv.Client(t).XLen(context.Background(), k).Val(); n != 0 {
				t.Fatalf("%s holds %d events", k, n)
			}
		case k == "lease:maintenance":
			if ttl := srv.Client(t).PTTL(context.Background(), k).Val(); ttl <= 0 {
				t.Fatalf("the maintenance lease has no TTL: %v", ttl)
			}
		case k != "enlace-schema":
			t.Fatalf("serve wrote %v into a configured Redis, want the schema marker and the lease alone", keys)
		}
	}
	if !strings.Contains(strings.Join(keys, " "), "enlace-schema") {
		t.Fatalf("no schema marker: %v", keys)
	}
	cancel()
	if code := <-done; code != 0 || stdout.Len() != 0 {
		t.Fatalf("serve exited %d, printed %q", code, stdout.String())
	}
}
