package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/store"
)

// The app commands of the developer side: showing an app whole, the
// review of a developer's app, and secret rotation.

// appStatus is how app list and app show name where an app is: its
// lifecycle status, and suspended when an admin disabled it.
func appStatus(a *store.App) string {
	if a.Disabled {
		return string(a.Status) + ",suspended"
	}
	return string(a.Status)
}

// appNotFound turns the store's ErrNotFound into the message of the app
// commands.
func appNotFound(clientID string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no app with client id %q", clientID)
	}
	return err
}

func (e *env) appShowCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show CLIENT_ID",
		Short: "Show an app: status, owner, profile, redirect URIs, scopes, OpenID Connect and security settings, test merchants (never a secret)",
		Args:  exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				a, err := st.GetApp(ctx, args[0])
				if err != nil {
					return appNotFound(args[0], err)
				}
				v, err := server.ReadAppView(ctx, st, a, st.Now())
				if err != nil {
					return err
				}
				if asJSON {
					return e.writeJSON(v)
				}
				return e.printAppView(a, v)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// printAppView prints an app for a person: one field a line, the empty
// ones left out.
func (e *env) printAppView(a *store.App, v server.AppView) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	line("client_id", v.ClientID)
	line("name", v.Name)
	line("status", appStatus(a))
	line("kind", appKind(a))
	if v.Owner != nil {
		line("owner", strings.TrimSpace(v.Owner.Email+" ("+v.Owner.ID+")"))
	} else {
		line("owner", "(an operator's app)")
	}
	line("review note", v.ReviewNote)
	line("publisher", v.Publisher)
	line("description", v.Description)
	line("homepage", v.Homepage)
	line("privacy policy", v.PrivacyPolicy)
	line("terms", v.Terms)
	line("support email", v.SupportEmail)
	line("redirect URIs", strings.Join(v.RedirectURIs, " "))
	line("scopes", strings.Join(v.Scopes, " "))
	line("ID token algorithm", v.IDTokenSignedResponseAlg)
	line("post-logout redirect URIs", strings.Join(v.PostLogoutRedirectURIs, " "))
	securityLines(a, line)
	tm := make([]string, 0, len(v.TestMerchants))
	for _, m := range v.TestMerchants {
		tm = append(tm, cmp.Or(m.Email, m.ID))
	}
	line("test merchants", strings.Join(tm, " "))
	if v.PreviousSecretExpiresAt != nil {
		line("previous secret works until", rfc3339(a.PrevSecretUntil))
	}
	line("created", rfc3339(a.CreatedAt))
	return tw.Flush()
}

func (e *env) appReviewCommand() *cobra.Command {
	var approve bool
	var reason string
	c := &cobra.Command{
		Use:   "review CLIENT_ID --approve | --reject REASON",
		Short: "Decide on an app in review: publish it, or send it back to development with a reason",
		Long: "Decide on an app its developer submitted for review. --approve publishes it: any merchant may\n" +
			"connect it, and it carries the verified mark. --reject REASON sends it back to development; the\n" +
			"developer sees the reason. Exactly one of the two.",
		Example: `  enlace app review 3f0c… --approve
  enlace app review 3f0c… --reject "The privacy policy link answers 404."`,
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			rejecting := c.Flags().Changed("reject")
			if approve == rejecting {
				return usageError{"give exactly one of --approve and --reject REASON"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				err := st.ReviewApp(ctx, args[0], approve, reason, store.ActorCLI)
				if errors.Is(err, store.ErrWrongStatus) {
					a, gerr := st.GetApp(ctx, args[0])
					if gerr != nil {
						return appNotFound(args[0], gerr)
					}
					return fmt.Errorf("app %s is not in review (it is %s): only an app its developer submitted can be reviewed", args[0], a.Status)
				}
				if err != nil {
					return appNotFound(args[0], err)
				}
				if approve {
					fmt.Fprintf(e.stdout, "approved app %s: it is published\n", args[0])
				} else {
					fmt.Fprintf(e.stdout, "rejected app %s: it is back in development, with the reason\n", args[0])
				}
				return nil
			})
		},
	}
	c.Flags().BoolVar(&approve, "approve", false, "publish the app")
	c.Flags().StringVar(&reason, "reject", "", "send the app back to development, with this reason for its developer")
	return c
}

func (e *env) appRotateSecretCommand() *cobra.Command {
	var overlap time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "rotate-secret CLIENT_ID [--overlap 24h]",
		Short: "Give an app a new secret (shown only now); the old one keeps working for --overlap",
		Long: "Give a confidential app a new client secret, printed only now. The secret it had keeps\n" +
			"authenticating for --overlap (24h by default, at most 168h), so the app can deploy the new one\n" +
			"without downtime; `enlace app retire-secret` ends that sooner. A secret an earlier rotation\n" +
			"replaced stops at once.",
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			if c.Flags().Changed("overlap") && overlap <= 0 {
				return usageError{"--overlap must be positive (e.g. 24h), at most 168h"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				secret, a, err := st.RotateSecret(ctx, args[0], overlap, store.ActorCLI)
				if err != nil {
					return appNotFound(args[0], err)
				}
				const note = "(the secret is shown only now; enlace keeps only its digest)"
				if asJSON {
					fmt.Fprintln(e.stderr, note)
					return e.writeJSON(map[string]any{"client_id": a.ClientID, "client_secret": secret,
						"previous_secret_expires_at": rfc3339(a.PrevSecretUntil)})
				}
				fmt.Fprintf(e.stdout, "client_id:     %s\nclient_secret: %s\nthe previous secret works until %s\n%s\n",
					a.ClientID, secret, rfc3339(a.PrevSecretUntil), note)
				return nil
			})
		},
	}
	c.Flags().DurationVar(&overlap, "overlap", store.DefaultSecretOverlap, "how long the previous secret keeps working (at most 168h)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) appRetireSecretCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retire-secret CLIENT_ID",
		Short: "End a rotation's overlap: the previous secret stops working now",
		Args:  exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				if err := st.RetireSecret(ctx, args[0], store.ActorCLI); err != nil {
					return appNotFound(args[0], err)
				}
				fmt.Fprintf(e.stdout, "retired the previous secret of app %s: only the current one works\n", args[0])
				return nil
			})
		},
	}
}
