package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

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

// rfc3339 formats t in UTC, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// connectionList prints the live connections, newest first, optionally of
// one merchant and/or one app.
func (e *env) connectionList(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("connection list")
	merchant := fs.String("merchant", "", "only this merchant's connections (merchant id)")
	app := fs.String("app", "", "only this app's connections (client id)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	// The store reads a whole index per call, so one call with no real
	// limit is cheaper than paging.
	conns, _, err := st.ListConnections(ctx, store.ConnectionFilter{MerchantID: *merchant, ClientID: *app}, 0, 1<<30)
	if err != nil {
		return err
	}
	if *asJSON {
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
		return e.writeJSON(out)
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

// connectionRevoke revokes one connection, by the id the token endpoint
// returns as MerchantAppId: its code, access and refresh tokens stop working
// at once.
func (e *env) connectionRevoke(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("connection revoke")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return errors.New("connection revoke takes one argument, the connection id (MerchantAppId)")
	}
	id := fs.Arg(0)
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
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
