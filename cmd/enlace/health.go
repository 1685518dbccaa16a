package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// version is this build's version: the module version when installed
// with `go install …@version`, else the commit it was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		v = "devel " + rev[:min(12, len(rev))]
		if modified == "true" {
			v += "+dirty"
		}
	}
	if v == "" {
		v = "(devel)"
	}
	return v + " (" + bi.GoVersion + ")"
}

func (e *env) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print enlace's version",
		GroupID: "server",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintf(e.stdout, "enlace %s\n", version())
			return err
		},
	}
}

// healthcheckCommand asks a running server whether it is ready, for a
// container's HEALTHCHECK: the distroless image has no curl.
func (e *env) healthcheckCommand() *cobra.Command {
	var url string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 when the server answers /readyz (for container health checks)",
		Long: "Ask the server at --url (by default this machine's address of http.addr) whether it is ready:\n" +
			"exit 0 when GET /readyz answers 200, 1 otherwise.",
		GroupID: "server",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if url == "" {
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				url = cfg.LocalURL()
			}
			return e.healthcheck(c.Context(), strings.TrimSuffix(url, "/")+"/readyz", timeout)
		},
	}
	c.Flags().StringVar(&url, "url", "", "base URL of the server (default: http.addr on this machine)")
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return c
}

func (e *env) healthcheck(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", url, res.StatusCode, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(e.stdout, "ok: %s\n", url)
	return nil
}
