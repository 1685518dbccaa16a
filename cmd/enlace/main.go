// Command enlace is the enlace OAuth 2.0 authorization server and its admin
// commands.
//
//	enlace [serve]                      run the server
//	enlace app create --name N --redirect-uri U [--redirect-uri U2 …] --scopes "s1 s2" [--json]
//	enlace app list [--json]
//	enlace app revoke-connections CLIENT_ID [--wait] [--json]
//	enlace app revocation CLIENT_ID [--json]
//	enlace merchant create --email E --name N --password-stdin [--json]
//	enlace merchant list [--json]
//	enlace connection list [--merchant MERCHANT_ID] [--app CLIENT_ID] [--limit N] [--cursor C] [--json]
//	enlace connection revoke CONNECTION_ID
//	enlace admin create --email E --password-stdin [--json]
//	enlace admin key create --name N [--json]
//	enlace migrate                      bring Redis to this version's key schema
//
// Admin commands talk to the Redis named by redis.addr / ENLACE_REDIS_ADDR;
// they need a real one, since the embedded Redis lives only inside a running
// server.
//
// The load tool is a command of its own, enlace-bench.
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
	"slices"
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
  enlace app revoke-connections CLIENT_ID [--wait] [--json]
  enlace app revocation CLIENT_ID [--json]
  enlace merchant create --email EMAIL --name NAME --password-stdin [--json]
  enlace merchant list [--json]
  enlace connection list [--merchant MERCHANT_ID] [--app CLIENT_ID] [--limit N] [--cursor C] [--json]
  enlace connection revoke CONNECTION_ID
  enlace admin create --email EMAIL --password-stdin [--json]
  enlace admin key create --name NAME [--json]
  enlace migrate
`

// command is one entry of the command table: the words that name it and
// the method that runs it with the arguments that follow them.
type command struct {
	words []string
	run   func(e *env, ctx context.Context, configPath string, explicit bool, args []string) error
}

var commands = []command{
	{[]string{"serve"}, func(e *env, ctx context.Context, path string, explicit bool, _ []string) error {
		return e.serve(ctx, path, explicit)
	}},
	{[]string{"app", "create"}, (*env).appCreate},
	{[]string{"app", "list"}, (*env).appList},
	{[]string{"app", "revoke-connections"}, (*env).appRevokeConnections},
	{[]string{"app", "revocation"}, (*env).appRevocation},
	{[]string{"merchant", "create"}, (*env).merchantCreate},
	{[]string{"merchant", "list"}, (*env).merchantList},
	{[]string{"connection", "list"}, (*env).connectionList},
	{[]string{"connection", "revoke"}, (*env).connectionRevoke},
	{[]string{"admin", "create"}, (*env).adminCreate},
	{[]string{"migrate"}, (*env).migrate},
	{[]string{"admin", "key", "create"}, (*env).adminKeyCreate},
}

// lookup finds the command named by the first words of args and returns it
// with the remaining arguments.
func lookup(args []string) (*command, []string) {
	for i := range commands {
		c := &commands[i]
		if len(args) >= len(c.words) && slices.Equal(args[:len(c.words)], c.words) {
			return c, args[len(c.words):]
		}
	}
	return nil, nil
}

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
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, rest := lookup(args)
	if cmd == nil {
		fmt.Fprint(stderr, usage)
		return 2
	}
	err := cmd.run(e, ctx, configPath, explicit, rest)
	if err != nil {
		fmt.Fprintf(stderr, "enlace: %v\n", err)
		return 1
	}
	return 0
}
