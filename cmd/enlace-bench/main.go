// Command enlace-bench measures a running enlace the way its operators
// would, against the server and its real Redis, on loopback only.
//
//	enlace-bench serve     run enlace with the benchmark floor under /_floor/
//	enlace-bench twin [--addr 127.0.0.1:8092]
//	                       the floor's independent twin: the token floors'
//	                       Redis calls in a process of its own, plain net/http
//	enlace-bench scale [--url U] [--redis ADDR] [--sizes 10000,100000,1000000]
//	                   [--requests N] [--json-file FILE]
//	                       the operator's listings and the app-wide revocation
//	                       as the connections grow
//	enlace-bench [run] [--url U] [--twin U] [--redis ADDR] [--duration D]
//	                   [--concurrency N] [--scenarios LIST] [--pool N]
//	                   [--json] [--json-file FILE]
//
// The floor is compiled into this binary only: `enlace serve` has no route
// that consumes a code without client authentication and no profiler.
// Configuration comes from config.yaml (or --config / ENLACE_CONFIG) and
// ENLACE_* environment variables, as for enlace.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/enlace-oauth/enlace/cmd/internal/launch"
	"github.com/enlace-oauth/enlace/cmd/internal/logbuf"
	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/server/logjson"
	"github.com/enlace-oauth/enlace/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Environ()))
}

// env is what a command runs with; tests supply their own.
type env struct {
	stdout, stderr io.Writer
	environ        []string
}

const usage = `usage:
  enlace-bench [--config FILE] serve
  enlace-bench [--config FILE] twin [--addr 127.0.0.1:8092]
  enlace-bench [--config FILE] scale [--url URL] [--redis ADDR] [--sizes 10000,100000,1000000] [--requests 200] [--json-file FILE]
  enlace-bench [--config FILE] [run] [--url URL] [--twin URL] [--redis ADDR] [--duration 10s] [--concurrency 64] [--scenarios LIST] [--pool N] [--json] [--json-file FILE]
`

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdout: stdout, stderr: stderr, environ: environ}
	configPath, explicit := "config.yaml", false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "ENLACE_CONFIG="); ok && v != "" {
			configPath, explicit = v, true
		}
	}
	if len(args) >= 2 && (args[0] == "--config" || args[0] == "-config") {
		configPath, explicit, args = args[1], true, args[2:]
	}
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = e.bench(ctx, configPath, explicit, args)
	case "serve":
		err = e.serve(ctx, configPath, explicit, args)
	case "twin":
		err = e.twin(ctx, configPath, explicit, args)
	case "scale":
		err = e.scale(ctx, configPath, explicit, args)
	case "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "enlace-bench: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "enlace-bench: %v\n", err)
		return 1
	}
	return 0
}

func (e *env) loadConfig(path string, explicit bool) (*config.Config, error) {
	return launch.LoadConfig(path, explicit, e.environ)
}

func (e *env) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// serve runs enlace, as `enlace serve` does, with the benchmark floor
// mounted behind the same middleware. It needs a real Redis: the load side
// prepares its data there.
func (e *env) serve(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("serve")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// The log is buffered as in `enlace serve`, so the figures are those
	// of the binary people run.
	lw := logbuf.New(e.stderr, 100*time.Millisecond)
	defer lw.Close()
	log := slog.New(server.WithRequestID(logjson.New(lw, nil)))
	cfg, err := e.loadConfig(path, explicit)
	if err != nil {
		return err
	}
	return launch.Serve(ctx, launch.ServeOptions{Config: cfg, Stdout: e.stdout, Log: log, Environ: e.environ,
		Prepare: func(_ context.Context, st *store.Store, _ *config.Config, _ bool) ([]server.Extension, string, error) {
			log.Warn("serving the benchmark floor under /_floor/: unauthenticated benchmark handlers; never in production")
			return []server.Extension{floorExtension(st, log)}, "", nil
		}})
}
