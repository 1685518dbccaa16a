package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one ```sh block of the README.
type readmeBlock struct {
	line int
	text string
}

// readmeBlocks returns the README's shell blocks, in order, except those
// marked `<!-- readme-test: skip (why) -->` on the line before.
func readmeBlocks(t *testing.T, readme string) []readmeBlock {
	t.Helper()
	var out []readmeBlock
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		skip := i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "<!-- readme-test: skip")
		start := i + 1
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
		}
		if i == len(lines) {
			t.Fatalf("README.md:%d: a shell block that never ends", start)
		}
		if !skip {
			out = append(out, readmeBlock{line: start, text: strings.Join(lines[start:i], "\n")})
		}
	}
	return out
}

var (
	csrfFieldRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	codeOnPage  = regexp.MustCompile(`<pre id="code">([^<]+)</pre>`)
)

// approveByHand does in a browser's stead what the README asks of a person:
// open the demo's authorize URL, log in as the demo merchant, press
// Autorizar, and read the code off the page the browser lands on.
func approveByHand(t *testing.T, d *demoCredentials) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	get := func(u string) (string, string) {
		t.Helper()
		res, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Request.URL.String(), string(b)
	}
	post := func(u string, form url.Values) (string, string) {
		t.Helper()
		res, err := c.PostForm(u, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Request.URL.String(), string(b)
	}
	csrf := func(body string) string {
		t.Helper()
		m := csrfFieldRe.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no form on the page:\n%s", body)
		}
		return m[1]
	}
	at, body := get(d.AuthorizeURL)
	if strings.Contains(at, "/login") {
		u, _ := url.Parse(at)
		at, body = post(d.Issuer+"/login", url.Values{"csrf_token": {csrf(body)}, "email": {d.MerchantEmail},
			"password": {d.MerchantPassword}, "next": {u.Query().Get("next")}})
	}
	if !strings.Contains(body, `name="granted"`) {
		t.Fatalf("no consent page at %s:\n%s", at, body)
	}
	at, body = post(at, url.Values{"csrf_token": {csrf(body)}, "decision": {"approve"},
		"granted": {"read:products", "read:checkouts"}})
	m := codeOnPage.FindStringSubmatch(body)
	if !strings.Contains(at, "/demo/callback") || m == nil {
		t.Fatalf("the callback page at %s shows no code:\n%s", at, body)
	}
	return html.UnescapeString(m[1])
}

// TestREADME runs the README's shell blocks, in order and as written,
// against an embedded `enlace serve` it starts, so that the README cannot
// drift from what enlace does. What a person does in a browser (approve,
// copy the code) the test does over HTTP; the only changes to the blocks
// are the server's address and the codes pasted where the README says to.
func TestREADME(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: run ./scripts/test, which installs it", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(raw))
	if len(blocks) < 5 {
		t.Fatalf("only %d runnable shell blocks in the README", len(blocks))
	}

	dir := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	embeddedServer(t, dir, addr)
	b, err := os.ReadFile(filepath.Join(dir, "demo.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d demoCredentials
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	code1, code2 := approveByHand(t, &d), approveByHand(t, &d)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, bl := range blocks {
		text := strings.ReplaceAll(bl.text, "http://127.0.0.1:8080", "http://"+addr)
		text = strings.ReplaceAll(text, "paste-the-second-code-here", code2)
		text = strings.ReplaceAll(text, "paste-the-code-here", code1)
		script.WriteString("echo '### README.md:" + strconv.Itoa(bl.line) + "' >&2\n" + text + "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = root
	// The server's configuration and nothing of the caller's: no Redis
	// of theirs, no config file.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ENLACE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ENLACE_EMBEDDED_DIR="+dir, "ENLACE_HTTP_ADDR="+addr,
		"ENLACE_CONFIG="+filepath.Join(root, "config.yaml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's blocks failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"token_type": "Bearer"`, `"expires_in": 21600`, `"MerchantAppId"`, `"OauthClientId": "` + d.ClientID + `"`,
		`"email": "` + d.MerchantEmail + `"`, // /api/d/info
		`"status": "active"`,                 // the sign-up
		`"first_name": "Lucía"`,              // the password grant's answer
		`"client_secret"`,                    // the developer's own app
		`warehouse  W1  Bodega Central`,      // a merchant's resources, from the CLI
		`[{"id":"W1","name":"Bodega Central"},{"id":"W2","name":"Bodega Norte"}]`, // and the admin API
		`"expires_in": 60`, `/apps/authorize?client_id=` + d.ClientID + `&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A`, // PAR
		`"fapi2": true`, `"token_endpoint_auth_method": "private_key_jwt"`, `"dpop_bound_access_tokens": true`, // the FAPI 2.0 app
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the README's blocks did not print %s:\n%s", want, out)
		}
	}
	// connection list --app shows the demo app's two connections.
	if n := strings.Count(string(out), d.ClientID+"  "); n < 2 {
		t.Errorf("connection list shows %d of the demo app's connections:\n%s", n, out)
	}
}
