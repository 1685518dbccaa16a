package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/store"
)

// passwordFromStdin reads the password of an account command: from
// standard input only, never from the command line (where other users
// of the machine and the shell's history would see it).
func (e *env) passwordFromStdin(given bool) (string, error) {
	if !given {
		return "", usageError{"--password-stdin is required (passwords are never taken as arguments)"}
	}
	return readPassword(e.stdin)
}

func (e *env) merchantCommand() *cobra.Command {
	return group("merchant", "Create and list merchants, reset a merchant's password, set their resources",
		e.merchantCreateCommand(), e.merchantListCommand(),
		e.passwordCommand("merchant", (*store.Store).SetMerchantPassword), e.merchantResourcesCommand())
}

func (e *env) merchantCreateCommand() *cobra.Command {
	return e.accountCreateCommand("merchant", "Create a merchant (a store account)",
		`  printf '%s\n' "$PASSWORD" | enlace merchant create --email ana@tienda.cl --name "Tienda de Ana" --password-stdin`,
		"store name", (*store.Store).CreateMerchant)
}

// accountCreateCommand is `<kind> create --email --name --password-stdin`,
// the one shape of every account with a name (merchants, developers).
func (e *env) accountCreateCommand(kind, short, example, nameHelp string,
	create func(*store.Store, context.Context, string, string, string) (*store.Account, error)) *cobra.Command {
	var email, name string
	var fromStdin, asJSON bool
	c := &cobra.Command{
		Use:     "create --email EMAIL --name NAME --password-stdin",
		Short:   short,
		Example: example,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			password, err := e.passwordFromStdin(fromStdin)
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				a, err := create(st, ctx, email, name, password)
				if err != nil {
					return err
				}
				if asJSON {
					return e.writeJSON(map[string]any{"id": a.ID, "email": a.Email, "name": a.Name})
				}
				fmt.Fprintf(e.stdout, "%s_id: %s\n", kind, a.ID)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&email, "email", "", "login email")
	f.StringVar(&name, "name", "", nameHelp)
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (its first line)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) merchantListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the merchants",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				ms, err := st.AllMerchants(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]map[string]any, 0, len(ms))
					for _, m := range ms {
						out = append(out, map[string]any{"id": m.ID, "email": m.Email, "name": m.Name,
							"created_at": rfc3339(m.CreatedAt)})
					}
					return e.writeJSON(out)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEMAIL\tNAME")
				for _, m := range ms {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", m.ID, m.Email, m.Name)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// passwordCommand is `<kind> password ID|EMAIL --password-stdin`: an
// operator's reset, which also ends the account's sessions.
func (e *env) passwordCommand(kind string, set func(*store.Store, context.Context, string, string) (*store.Account, error)) *cobra.Command {
	var fromStdin bool
	c := &cobra.Command{
		Use:   "password ID|EMAIL --password-stdin",
		Short: "Set a new password for a " + kind + " (their sessions end)",
		Long: "Set a new password for the " + kind + " with this id or email, read from standard input, with the\n" +
			"one password rule of every account; the sessions they had are over.",
		Args: exactArgs(1, "one argument, the "+kind+"'s id or email"),
		RunE: func(c *cobra.Command, args []string) error {
			password, err := e.passwordFromStdin(fromStdin)
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				a, err := set(st, ctx, args[0], password)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no %s with id or email %q", kind, args[0])
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "new password set for %s %s (%s); their sessions have ended\n", kind, a.ID, a.Email)
				return nil
			})
		},
	}
	c.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (its first line)")
	return c
}

func (e *env) adminCommand() *cobra.Command {
	return group("admin", "Create admins (operators) and the admin API's keys",
		e.adminCreateCommand(), e.passwordCommand("admin", (*store.Store).SetAdminPassword),
		group("key", "Create, list and revoke admin API keys",
			e.adminKeyCreateCommand(), e.adminKeyListCommand(), e.adminKeyRevokeCommand()))
}

// adminCreateCommand registers an operator account; the password comes
// from standard input, never from the command line.
func (e *env) adminCreateCommand() *cobra.Command {
	var email string
	var fromStdin, asJSON bool
	c := &cobra.Command{
		Use:   "create --email EMAIL --password-stdin",
		Short: "Create an admin, who logs in at /admin/login",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			password, err := e.passwordFromStdin(fromStdin)
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				a, err := st.CreateAdmin(ctx, email, password)
				if err != nil {
					return err
				}
				if asJSON {
					return e.writeJSON(map[string]any{"id": a.ID, "email": a.Email})
				}
				fmt.Fprintf(e.stdout, "admin_id: %s\n", a.ID)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&email, "email", "", "login email")
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (its first line)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// adminKeyJSON is an admin API key as the key commands print it.
type adminKeyJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Key       string `json:"key,omitempty"`
	CreatedAt string `json:"created_at"`
	ExpiresAt string `json:"expires_at,omitempty"`
}

func toAdminKeyJSON(k *store.AdminKey, key string) adminKeyJSON {
	return adminKeyJSON{ID: k.ID, Name: k.Name, Key: key, CreatedAt: rfc3339(k.CreatedAt), ExpiresAt: rfc3339(k.ExpiresAt)}
}

// adminKeyCreateCommand makes an API key for the admin JSON API and
// prints it, the one time it can be seen.
func (e *env) adminKeyCreateCommand() *cobra.Command {
	var name string
	var expiresIn time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "create --name NAME [--expires-in DURATION]",
		Short: "Create an admin API key and print it (shown only now)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return usageError{"--name is required: say what the key is for"}
			}
			if expiresIn < 0 {
				return usageError{"--expires-in must be positive (e.g. 720h), or 0 for a key that does not expire"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				key, k, err := st.CreateAdminKey(ctx, name, expiresIn)
				if err != nil {
					return err
				}
				const note = "(the key is shown only now; enlace keeps only its digest)"
				if asJSON {
					fmt.Fprintln(e.stderr, note)
					return e.writeJSON(toAdminKeyJSON(k, key))
				}
				fmt.Fprintf(e.stdout, "admin_key: %s\nid:        %s\n%s\n", key, k.ID, note)
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringVar(&name, "name", "", "what the key is for (shown in listings)")
	f.DurationVar(&expiresIn, "expires-in", 0, "the key stops working after this long (e.g. 720h); 0: never")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) adminKeyListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the admin API keys that still work (never the keys themselves)",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				keys, err := st.AdminKeys(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]adminKeyJSON, 0, len(keys))
					for _, k := range keys {
						out = append(out, toAdminKeyJSON(k, ""))
					}
					return e.writeJSON(out)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tCREATED\tEXPIRES")
				for _, k := range keys {
					expires := rfc3339(k.ExpiresAt)
					if expires == "" {
						expires = "never"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, rfc3339(k.CreatedAt), expires)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) adminKeyRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke KEY_ID",
		Short: "Revoke an admin API key (by the id `admin key list` prints): it is refused from now on",
		Args:  exactArgs(1, "one argument, the key's id as admin key list prints it"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				k, err := st.RevokeAdminKey(ctx, args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no admin key with id %q (see enlace admin key list)", args[0])
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "revoked admin key %s (%s)\n", k.ID, k.Name)
				return nil
			})
		},
	}
}
