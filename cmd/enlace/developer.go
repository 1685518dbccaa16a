package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/store"
)

// The developer commands: the accounts that own third-party apps, their
// invitations (developers.signup: invite) and their RFC 7591 initial
// access tokens.

func (e *env) developerCommand() *cobra.Command {
	return group("developer", "Create, list and invite developers (who own apps); make their registration tokens",
		e.developerCreateCommand(), e.developerListCommand(), e.developerInviteCommand(),
		e.passwordCommand("developer", (*store.Store).SetDeveloperPassword),
		group("token", "Make RFC 7591 initial access tokens (for POST /oauth/register)",
			e.developerTokenCreateCommand()))
}

func (e *env) developerCreateCommand() *cobra.Command {
	return e.accountCreateCommand("developer", "Create a developer account, who logs in at /developers",
		`  printf '%s\n' "$PASSWORD" | enlace developer create --email dev@sync.example.com --name "Dev" --password-stdin`,
		"the developer's name", (*store.Store).CreateDeveloper)
}

func (e *env) developerListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the developers",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				ds, err := st.AllDevelopers(ctx)
				if err != nil {
					return err
				}
				if asJSON {
					out := make([]map[string]any, 0, len(ds))
					for _, d := range ds {
						out = append(out, map[string]any{"id": d.ID, "email": d.Email, "name": d.Name,
							"created_at": rfc3339(d.CreatedAt)})
					}
					return e.writeJSON(out)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tCREATED")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.ID, d.Email, d.Name, rfc3339(d.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// signupLink is the portal address an invitation is opened at.
func signupLink(issuer, invitation string) string {
	return issuer + "/developers/signup?" + url.Values{"invite": {invitation}}.Encode()
}

func (e *env) developerInviteCommand() *cobra.Command {
	var email string
	var asJSON bool
	c := &cobra.Command{
		Use:   "invite --email EMAIL",
		Short: "Invite someone to sign up as a developer and print the link (shown only now)",
		Long: "Make a one-use invitation for this email, good for 7 days, and print its token and the portal\n" +
			"link that carries it. Send the link to the invitee; enlace keeps only the token's digest.",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				if _, err := st.FindDeveloper(ctx, email); err == nil {
					return fmt.Errorf("%q has a developer account already", store.NormalizeEmail(email))
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				tok, err := st.InviteDeveloper(ctx, email)
				if err != nil {
					return err
				}
				link := signupLink(cfg.Issuer, tok)
				expires := time.Now().Add(store.InviteLifetime)
				const note = "(the invitation is shown only now; enlace keeps only its digest)"
				if asJSON {
					fmt.Fprintln(e.stderr, note)
					return e.writeJSON(map[string]any{"email": store.NormalizeEmail(email), "invitation": tok,
						"link": link, "expires_at": rfc3339(expires)})
				}
				fmt.Fprintf(e.stdout, "invitation: %s\nlink:       %s\nexpires:    %s\n%s\n", tok, link, rfc3339(expires), note)
				return nil
			})
		},
	}
	c.Flags().StringVar(&email, "email", "", "the invitee's email (their login)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) developerTokenCreateCommand() *cobra.Command {
	var email string
	var expiresIn time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "create --email EMAIL [--expires-in DURATION]",
		Short: "Make an initial access token for RFC 7591 registration and print it (shown only now)",
		Long: "Make an RFC 7591 initial access token for the developer with this email: a bearer token for\n" +
			"POST /oauth/register, which registers apps they own (in development) until it expires\n" +
			"(--expires-in, 720h by default, at most a year). enlace keeps only its digest.",
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if expiresIn < 0 {
				return usageError{"--expires-in must be positive (e.g. 720h)"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				d, err := st.FindDeveloper(ctx, email)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no developer with email %q (see enlace developer list)", email)
				}
				if err != nil {
					return err
				}
				tok, ia, err := st.CreateInitialAccessToken(ctx, d.ID, expiresIn)
				if err != nil {
					return err
				}
				const note = "(the token is shown only now; enlace keeps only its digest)"
				if asJSON {
					fmt.Fprintln(e.stderr, note)
					return e.writeJSON(map[string]any{"token": tok, "developer_id": d.ID, "expires_at": rfc3339(ia.ExpiresAt)})
				}
				fmt.Fprintf(e.stdout, "token:   %s\nexpires: %s\n%s\n", tok, rfc3339(ia.ExpiresAt), note)
				return nil
			})
		},
	}
	c.Flags().StringVar(&email, "email", "", "the developer's email")
	c.Flags().DurationVar(&expiresIn, "expires-in", 0, "how long the token works (e.g. 720h); 0: 720h")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
