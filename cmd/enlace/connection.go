package main

import (
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

// connectionJSON is one connection as `connection list --json` prints it.
type connectionJSON struct {
	ID         string   `json:"id"`
	ClientID   string   `json:"client_id"`
	MerchantID string   `json:"merchant_id"`
	Scopes     []string `json:"scopes"`
	Status     string   `json:"status"`
	CreatedAt  string   `json:"created_at"`
	LastUsed   string   `json:"last_used,omitempty"`
}

func (e *env) connectionCommand() *cobra.Command {
	return group("connection", "List and revoke connections (one merchant's approval of one app)",
		e.connectionListCommand(), e.connectionRevokeCommand())
}

// connectionListCommand prints a page of the live connections, the latest
// expiry first, optionally of one merchant and/or one app.
func (e *env) connectionListCommand() *cobra.Command {
	var (
		merchant, app, cursor string
		limit                 int
		asJSON                bool
	)
	c := &cobra.Command{
		Use:   "list [--merchant MERCHANT_ID] [--app CLIENT_ID] [--limit N] [--cursor C]",
		Short: "List live connections, a page at a time",
		Args:  noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if limit < 1 || limit > store.MaxLimit {
				return usageError{fmt.Sprintf("--limit must be from 1 to %d", store.MaxLimit)}
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				return e.connectionList(ctx, st, store.ConnectionFilter{MerchantID: merchant, ClientID: app},
					store.Page{Cursor: cursor, Limit: limit}, asJSON)
			})
		},
	}
	f := c.Flags()
	f.StringVar(&merchant, "merchant", "", "only this merchant's connections (merchant id)")
	f.StringVar(&app, "app", "", "only this app's connections (client id)")
	f.IntVar(&limit, "limit", 50, fmt.Sprintf("connections per page (at most %d)", store.MaxLimit))
	f.StringVar(&cursor, "cursor", "", "the page after the one that printed this cursor")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func (e *env) connectionList(ctx context.Context, st *store.Store, filter store.ConnectionFilter, p store.Page, asJSON bool) error {
	page, err := st.ListConnections(ctx, filter, p)
	if errors.Is(err, store.ErrInvalid) {
		return usageError{"--cursor is not one that connection list printed"}
	}
	if err != nil {
		return err
	}
	conns := page.Connections
	if asJSON {
		out := make([]connectionJSON, 0, len(conns))
		for _, c := range conns {
			scopes := c.Scopes
			if scopes == nil {
				scopes = []string{}
			}
			out = append(out, connectionJSON{
				ID: c.ID, ClientID: c.ClientID, MerchantID: c.MerchantID, Scopes: scopes, Status: string(c.Status),
				CreatedAt: rfc3339(c.CreatedAt), LastUsed: rfc3339(c.LastUsed),
			})
		}
		var next any
		if page.Next != "" {
			next = page.Next
		}
		return e.writeJSON(map[string]any{"data": out, "total": page.Total, "next_cursor": next})
	}
	if page.Next != "" {
		// After the table, on stderr, so the table alone can be piped.
		defer fmt.Fprintf(e.stderr, "%d of %d shown; next page: --cursor %s\n", len(conns), page.Total, page.Next)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAPP\tMERCHANT\tSCOPES\tSTATUS\tCREATED\tLAST USED")
	for _, c := range conns {
		lastUsed := rfc3339(c.LastUsed)
		if lastUsed == "" {
			lastUsed = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.ClientID, c.MerchantID,
			strings.Join(c.Scopes, " "), c.Status, rfc3339(c.CreatedAt), lastUsed)
	}
	return tw.Flush()
}

// connectionRevokeCommand revokes one connection, by the id the token
// endpoint returns as MerchantAppId: its code, access and refresh tokens
// stop working at once.
func (e *env) connectionRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke CONNECTION_ID",
		Short: "Revoke one connection: its code and tokens stop working at once",
		Args:  exactArgs(1, "one argument, the connection id (MerchantAppId)"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				return e.connectionRevoke(ctx, st, args[0])
			})
		},
	}
}

func (e *env) connectionRevoke(ctx context.Context, st *store.Store, id string) error {
	// Read first only to say what is revoked; the revocation itself is one
	// atomic step in the store, and revoking a revoked connection is no error.
	c, err := st.GetConnection(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no connection with id %q (unknown, or expired)", id)
	}
	if err != nil {
		return err
	}
	if c.Status == store.StatusRevoked {
		fmt.Fprintf(e.stdout, "connection %s was already revoked (%s by %s)\n", c.ID, rfc3339(c.RevokedAt), c.RevokedBy)
		return nil
	}
	if err := st.RevokeConnection(ctx, id, store.ActorCLI); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no connection with id %q (unknown, or expired)", id)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "revoked connection %s (app %s, merchant %s)\n", c.ID, c.ClientID, c.MerchantID)
	return nil
}

func (e *env) appRevokeConnectionsCommand() *cobra.Command {
	var wait, asJSON bool
	c := &cobra.Command{
		Use:   "revoke-connections CLIENT_ID [--wait]",
		Short: "Revoke every connection of an app at once (one write, whatever their number)",
		Long: "Revoke every connection the app has made until now: they are refused from this moment on, on every\n" +
			"instance. The per-connection clean-up follows in the background of the running servers; --wait\n" +
			"waits for it (a server must be running).",
		Args: exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				r, err := st.RevokeAllConnections(ctx, args[0], store.ActorCLI)
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no app with client id %q", args[0])
				}
				if err != nil {
					return err
				}
				if !asJSON {
					fmt.Fprintf(e.stdout, "every connection of app %s made until now is refused from now on (generation %d)\n",
						r.ClientID, r.Generation)
				}
				for wait && !r.Done {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(200 * time.Millisecond):
					}
					if r, err = st.AppRevocation(ctx, r.ClientID); err != nil {
						return err
					}
				}
				return e.printRevocation(r, asJSON)
			})
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait until the clean-up has finished (a server must be running)")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// appRevocationCommand prints how far the clean-up of an app's last
// app-wide revocation is.
func (e *env) appRevocationCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "revocation CLIENT_ID",
		Short: "Show the progress of an app's last app-wide revocation",
		Args:  exactArgs(1, "one argument, the client id"),
		RunE: func(c *cobra.Command, args []string) error {
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				r, err := st.AppRevocation(ctx, args[0])
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("the connections of app %q were never revoked as a whole", args[0])
				}
				if err != nil {
					return err
				}
				return e.printRevocation(r, asJSON)
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

// revocationOf is r as --json prints it: the admin API's shape.
func revocationOf(r *store.Revocation) server.RevocationView { return server.NewRevocationView(r) }

func (e *env) printRevocation(r *store.Revocation, asJSON bool) error {
	v := revocationOf(r)
	if asJSON {
		return e.writeJSON(v)
	}
	fmt.Fprintf(e.stdout, "clean-up %s: %d connections revoked, shard %d of %d (started %s by %s)\n",
		v.State, r.Revoked, r.Shard, store.Shards, rfc3339(r.StartedAt), r.By)
	return nil
}
