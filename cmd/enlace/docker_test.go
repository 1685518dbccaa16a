package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
)

// TestDockerCompose checks docker-compose.yml and the Dockerfile as far as
// a machine without a Docker engine can: enlace's health check is
// `enlace healthcheck` and, with the compose file's environment, asks the
// listener it configures; ports are published on the host's loopback
// only; /metrics has a listener of its own; the session secret comes from
// .env, which git ignores.
func TestDockerCompose(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatal(err)
	}
	svc, ok := compose.Services["enlace"]
	if !ok {
		t.Fatal("no enlace service")
	}
	if strings.Join(svc.Healthcheck.Test, " ") != "CMD /usr/local/bin/enlace healthcheck" {
		t.Errorf("enlace's healthcheck: %q", svc.Healthcheck.Test)
	}
	if len(svc.Ports) == 0 {
		t.Fatal("enlace publishes no port")
	}
	for _, p := range svc.Ports {
		if !strings.HasPrefix(p, "127.0.0.1:") {
			t.Errorf("port %q is published on every interface of the host", p)
		}
	}
	env := svc.Environment
	if env["ENLACE_METRICS_ADDR"] == "" || env["ENLACE_METRICS_ADDR"] == env["ENLACE_HTTP_ADDR"] {
		t.Errorf("metrics share the public listener: %q", env["ENLACE_METRICS_ADDR"])
	}
	if !strings.Contains(env["ENLACE_SESSION_SECRET"], "${ENLACE_SESSION_SECRET:?") || !strings.Contains(env["ENLACE_SESSION_SECRET"], ".env") {
		t.Errorf("the session secret: %q", env["ENLACE_SESSION_SECRET"])
	}
	// The compose file's environment, its ${…} filled in as .env would.
	ref := regexp.MustCompile(`\$\{([A-Z_]+)(:-([^}]*)|:\?[^}]*)?\}`)
	var environ []string
	for k, v := range env {
		v = ref.ReplaceAllStringFunc(v, func(m string) string {
			sub := ref.FindStringSubmatch(m)
			if sub[1] == "ENLACE_SESSION_SECRET" {
				return strings.Repeat("s", 64)
			}
			return sub[3]
		})
		environ = append(environ, k+"="+v)
	}
	cfg, err := launch.LoadConfig("", false, environ)
	if err != nil {
		t.Fatalf("the compose file's configuration: %v", err)
	}
	if got := cfg.LocalURL(); got != "http://127.0.0.1:8080" {
		t.Errorf("enlace healthcheck in the container asks %s", got)
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dockerfile), `HEALTHCHECK`) || !strings.Contains(string(dockerfile), `"/usr/local/bin/enlace", "healthcheck"`) {
		t.Error("the Dockerfile has no HEALTHCHECK running enlace healthcheck")
	}
	ignore, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ignore), "/.env\n") {
		t.Error(".env is not git-ignored")
	}
}
