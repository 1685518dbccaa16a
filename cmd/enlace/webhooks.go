package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/server"
	"github.com/enlace-oauth/enlace/store"
)

// The app commands of webhooks: the endpoint is set with `app update
// --webhook-url`; these rotate its secret, list and resend deliveries and
// send a ping.

// setWebhook applies --webhook-url: "" removes the endpoint. It returns
// the signing secret when one was made (the endpoint's first).
func setWebhook(ctx context.Context, st *store.Store, clientID, url string, allowPrivate bool) (string, error) {
	if url == "" {
		return "", appNotFound(clientID, st.RemoveWebhook(ctx, clientID, store.ActorCLI))
	}
	if err := server.CheckWebhookURL(ctx, url, allowPrivate); err != nil {
		return "", err
	}
	secret, _, err := st.SetWebhook(ctx, clientID, url, allowPrivate, store.ActorCLI)
	return secret, appNotFound(clientID, err)
}

func (e *env) appRotateWebhookSecretCommand() *cobra.Command {
	var overlap time.Duration
	var asJSON bool
	c := &cobra.Command{
		Use:   "rotate-webhook-secret CLIENT_ID [--overlap 24h]",
		Short: "Give an app's webhook a new signing secret (shown only now); the old one signs too for --overlap",
		Long: "Give the app's webhook endpoint a new signing secret, printed only now. For --overlap (24h by\n" +
			"default, at most 168h) every delivery carries a signature with each secret, so the receiver can\n" +
			"switch to the new one without rejecting a delivery.",
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			if c.Flags().Changed("overlap") && overlap <= 0 {
				return usageError{"--overlap must be positive (e.g. 24h), at most 168h"}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				secret, a, err := st.RotateWebhookSecret(ctx, args[0], overlap, store.ActorCLI)
				if err != nil {
					return appNotFound(args[0], err)
				}
				if asJSON {
					return e.writeJSON(map[string]any{"client_id": a.ClientID, "webhook_secret": secret,
						"previous_secret_expires_at": rfc3339(a.Webhook.PrevUntil)})
				}
				fmt.Fprintf(e.stdout, "webhook_secret: %s\nthe previous secret signs too until %s\n(shown only now)\n",
					secret, rfc3339(a.Webhook.PrevUntil))
				return nil
			})
		},
	}
	c.Flags().DurationVar(&overlap, "overlap", store.DefaultSecretOverlap, "how long the previous secret signs too (at most 168h)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) appDeliveriesCommand() *cobra.Command {
	var (
		cursor string
		limit  int
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "deliveries CLIENT_ID [--limit 50] [--cursor C]",
		Short: "List an app's webhook deliveries, newest first: event, status, attempts, next retry",
		Args:  exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				if _, err := st.GetApp(ctx, args[0]); err != nil {
					return appNotFound(args[0], err)
				}
				page, err := st.Deliveries(ctx, args[0], cursor, limit)
				if err != nil {
					return err
				}
				if asJSON {
					views := make([]server.DeliveryView, 0, len(page.Deliveries))
					for _, d := range page.Deliveries {
						views = append(views, server.NewDeliveryView(d))
					}
					return e.writeJSON(map[string]any{"deliveries": views, "next_cursor": page.Next, "total": page.Total})
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tEVENT\tSTATUS\tATTEMPTS\tLAST ANSWER\tNEXT ATTEMPT\tCREATED")
				for _, d := range page.Deliveries {
					last, next := "-", "-"
					if len(d.Log) > 0 {
						last = fmt.Sprint(d.Log[0].Status)
						if d.Log[0].Error != "" {
							last = d.Log[0].Error
						}
					}
					if d.Status == store.DeliveryPending {
						next = rfc3339(d.NextAt)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Type, d.Status, d.Attempts, last, next, rfc3339(d.CreatedAt))
				}
				if page.Next != "" {
					fmt.Fprintf(tw, "(more: --cursor %s)\n", page.Next)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&cursor, "cursor", "", "the next_cursor of the page before")
	c.Flags().IntVar(&limit, "limit", 50, "deliveries per page (at most 500)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) appResendDeliveryCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "resend-delivery CLIENT_ID DELIVERY_ID",
		Short: "Deliver an event again now, with the same webhook-id (its retry schedule starts again)",
		Args:  exactArgs(2, "two arguments, the client id and the delivery id"),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				err := st.ResendDelivery(ctx, args[0], args[1], store.DeliveryOptions{Retention: cfg.Webhooks.Retention})
				if err != nil {
					return fmt.Errorf("resend %s of app %s: %w", args[1], args[0], err)
				}
				fmt.Fprintf(e.stdout, "queued %s again; a running server delivers it\n", args[1])
				return nil
			})
		},
	}
}

func (e *env) appPingCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ping CLIENT_ID",
		Short: "Send a ping event to an app's webhook, to try the endpoint",
		Args:  exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				d, err := st.SendPing(ctx, args[0], store.DeliveryOptions{Retention: cfg.Webhooks.Retention})
				if err != nil {
					return appNotFound(args[0], err)
				}
				fmt.Fprintf(e.stdout, "queued ping %s; see `enlace app deliveries %s`\n", d.ID, args[0])
				return nil
			})
		},
	}
}
