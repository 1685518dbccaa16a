// Command enlace is the enlace OAuth 2.0 authorization server and its admin
// commands. `enlace help` lists them; `enlace help COMMAND` or
// `enlace COMMAND --help` describes one.
//
// Admin commands talk to the Redis named by redis.addr / ENLACE_REDIS_ADDR,
// or, with none configured, to the embedded Redis of an `enlace serve`
// running on the same embedded.dir.
//
// The load tool is a command of its own, enlace-bench.
//
// Configuration comes from config.yaml (or --config / ENLACE_CONFIG) and
// ENLACE_* environment variables; see config.yaml.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
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
	// configPath is the configuration file; explicit when it was named
	// (--config or ENLACE_CONFIG), and then it must exist.
	configPath string
	explicit   bool
}

// usageError is a command line that does not parse: exit status 2, as
// for the conventions of gh and kubectl.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run executes one command line and returns the exit code: 0, 1 when the
// command failed, 2 when the command line is wrong.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, environ: environ, configPath: "config.yaml"}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "ENLACE_CONFIG="); ok && v != "" {
			e.configPath, e.explicit = v, true
		}
	}
	root := e.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "enlace: %v\n", err)
		if cmd != nil {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return 2
	}
	fmt.Fprintf(stderr, "enlace: %v\n", err)
	return 1
}

// rootCommand builds the command tree.
func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "enlace",
		Short: "enlace, the OAuth 2.0 authorization server of the commerce platform",
		Long: `enlace is an OAuth 2.0 authorization server: merchants connect third-party apps to their
store account, and apps trade a one-use code for an access token and a refresh token.

With no command, enlace runs the server (enlace serve). The other commands manage apps,
developers, merchants, connections and admins in the configured Redis.

Configuration: the built-in defaults, then config.yaml (or --config FILE, ENLACE_CONFIG),
then ENLACE_* environment variables (see config.yaml for every key).`,
		Version:       version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.serve(c.Context())
		},
	}
	root.PersistentFlags().StringVar(&e.configPath, "config", e.configPath,
		"configuration file (also ENLACE_CONFIG)")
	root.PersistentPreRun = func(c *cobra.Command, _ []string) {
		if c.Flags().Changed("config") {
			e.explicit = true
		}
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err.Error()} })
	root.SetVersionTemplate("enlace {{.Version}}\n")
	root.AddGroup(&cobra.Group{ID: "server", Title: "Running the server:"},
		&cobra.Group{ID: "admin", Title: "Managing enlace:"})
	serve := &cobra.Command{
		Use:     "serve",
		Short:   "Run the server (the default command)",
		Long:    "Run the HTTP server until SIGINT or SIGTERM, then stop gracefully. With no Redis configured it runs\non an embedded in-process Redis with a demo merchant and app (see embedded.dir in config.yaml).",
		GroupID: "server",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, _ []string) error { return e.serve(c.Context()) },
	}
	root.AddCommand(serve, e.healthcheckCommand(), e.migrateCommand(), e.versionCommand())
	for _, c := range []*cobra.Command{e.appCommand(), e.developerCommand(), e.merchantCommand(),
		e.connectionCommand(), e.adminCommand(), e.keysCommand(), e.demoCommand()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	root.SetHelpCommandGroupID("admin")
	root.SetCompletionCommandGroupID("admin")
	return root
}

// noArgs refuses arguments, naming an unknown command as such (with the
// closest ones) rather than printing the whole usage.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !c.HasSubCommands() {
		return usageError{fmt.Sprintf("%q takes no arguments, got %q", c.CommandPath(), args[0])}
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "; did you mean " + strings.Join(s, " or ") + "?"
	}
	return usageError{msg}
}

// group is a command that only holds others: alone it says which.
func group(use, short string, sub ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use + " COMMAND",
		Short: short,
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			names := make([]string, 0, len(c.Commands()))
			for _, s := range c.Commands() {
				if s.IsAvailableCommand() {
					names = append(names, s.Name())
				}
			}
			return usageError{fmt.Sprintf("%q needs a command: %s", c.CommandPath(), strings.Join(names, ", "))}
		},
	}
	c.AddCommand(sub...)
	return c
}

// exactArgs wants n arguments, named by what for the message.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n || (n == 1 && strings.TrimSpace(args[0]) == "") {
			return usageError{fmt.Sprintf("%q takes %s", c.CommandPath(), what)}
		}
		return nil
	}
}
