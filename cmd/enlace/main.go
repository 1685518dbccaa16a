// Command enlace is the enlace OAuth 2.0 authorization server and its admin
// commands.
//
//	enlace [serve]                      run the server
//	enlace app create --name N --redirect-uri U [--redirect-uri U2 …] --scopes "s1 s2" [--json]
//	enlace app list [--json]
//	enlace merchant create --email E --name N --password-stdin [--json]
//	enlace merchant list [--json]
//
// Configuration comes from config.yaml (or --config / ENLACE_CONFIG) and
// ENLACE_* environment variables; see config.yaml.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ()))
}

// env is what a command runs with; tests supply their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
}

const usage = `usage:
  enlace [--config FILE] [serve]
  enlace app create --name NAME --redirect-uri URI [--redirect-uri URI ...] --scopes "s1 s2" [--json]
  enlace app list [--json]
  enlace merchant create --email EMAIL --name NAME --password-stdin [--json]
  enlace merchant list [--json]
`

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ}
	configPath, explicit := "config.yaml", false
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "ENLACE_CONFIG="); ok && v != "" {
			configPath, explicit = v, true
		}
	}
	if len(args) >= 2 && (args[0] == "--config" || args[0] == "-config") {
		configPath, explicit, args = args[1], true, args[2:]
	}
	if len(args) == 0 {
		args = []string{"serve"}
	}
	var err error
	switch {
	case args[0] == "serve":
		err = e.serve(ctx, configPath, explicit)
	case args[0] == "app" && len(args) > 1 && args[1] == "create":
		err = e.appCreate(ctx, configPath, explicit, args[2:])
	case args[0] == "app" && len(args) > 1 && args[1] == "list":
		err = e.appList(ctx, configPath, explicit, args[2:])
	case args[0] == "merchant" && len(args) > 1 && args[1] == "create":
		err = e.merchantCreate(ctx, configPath, explicit, args[2:])
	case args[0] == "merchant" && len(args) > 1 && args[1] == "list":
		err = e.merchantList(ctx, configPath, explicit, args[2:])
	case args[0] == "help" || args[0] == "-h" || args[0] == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "enlace: %v\n", err)
		return 1
	}
	return 0
}
