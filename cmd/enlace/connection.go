package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// connectionList prints a page of the live connections, the most recently
// used first, optionally of one merchant and/or one app.
func (e *env) connectionList(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("connection list")
	merchant := fs.String("merchant", "", "only this merchant's connections (merchant id)")
	app := fs.String("app", "", "only this app's connections (client id)")
	limit := fs.Int("limit", 50, fmt.Sprintf("connections per page (at most %d)", store.MaxLimit))
	cursor := fs.String("cursor", "", "the page after the one that printed this cursor")
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
	if *limit < 1 || *limit > store.MaxLimit {
		return fmt.Errorf("--limit must be from 1 to %d", store.MaxLimit)
	}
	page, err := st.ListConnections(ctx, store.ConnectionFilter{MerchantID: *merchant, ClientID: *app},
		store.Page{Cursor: *cursor, Limit: *limit})
	if errors.Is(err, store.ErrInvalid) {
		return errors.New("--cursor is not one that connection list printed")
	}
	if err != nil {
		return err
	}
	conns := page.Connections
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

// appRevokeConnections revokes every connection of an app at once (one
// write, whatever their number); the per-connection clean-up follows in
// the background of the running servers, and --wait waits for it.
func (e *env) appRevokeConnections(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("app revoke-connections")
	wait := fs.Bool("wait", false, "wait until the clean-up has finished (a server must be running)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(flagsFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return errors.New("app revoke-connections takes one argument, the client id")
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	r, err := st.RevokeAllConnections(ctx, fs.Arg(0), store.ActorCLI)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no app with client id %q", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	if !*asJSON {
		fmt.Fprintf(e.stdout, "every connection of app %s made until now is refused from now on (generation %d)\n",
			r.ClientID, r.Generation)
	}
	for *wait && !r.Done {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if r, err = st.AppRevocation(ctx, r.ClientID); err != nil {
			return err
		}
	}
	return e.printRevocation(r, *asJSON)
}

// appRevocation prints how far the clean-up of an app's last app-wide
// revocation is.
func (e *env) appRevocation(ctx context.Context, path string, explicit bool, args []string) error {
	fs := e.flags("app revocation")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(flagsFirst(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return errors.New("app revocation takes one argument, the client id")
	}
	st, done, err := e.adminStore(ctx, path, explicit)
	if err != nil {
		return err
	}
	defer done()
	r, err := st.AppRevocation(ctx, fs.Arg(0))
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("the connections of app %q were never revoked as a whole", fs.Arg(0))
	}
	if err != nil {
		return err
	}
	return e.printRevocation(r, *asJSON)
}

func (e *env) printRevocation(r *store.Revocation, asJSON bool) error {
	state := "running"
	if r.Done {
		state = "done"
	}
	if asJSON {
		return e.writeJSON(map[string]any{"client_id": r.ClientID, "generation": r.Generation, "by": r.By,
			"started_at": rfc3339(r.StartedAt), "state": state, "shard": r.Shard, "shards": store.Shards,
			"revoked": r.Revoked, "finished_at": rfc3339(r.FinishedAt)})
	}
	fmt.Fprintf(e.stdout, "clean-up %s: %d connections revoked, shard %d of %d (started %s by %s)\n",
		state, r.Revoked, r.Shard, store.Shards, rfc3339(r.StartedAt), r.By)
	return nil
}

// flagsFirst moves a leading argument behind the flags, so that the usage
// as written, "CLIENT_ID [--flags]", parses with the flag package.
func flagsFirst(args []string) []string {
	if len(args) > 1 && !strings.HasPrefix(args[0], "-") {
		return append(slices.Clone(args[1:]), args[0])
	}
	return args
}
