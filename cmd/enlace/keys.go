package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enlace-oauth/enlace/store"
)

// The ID-token signing keys (OpenID Connect): `enlace keys list|rotate`.
// The server rotates them on its own schedule (oidc.keys in config.yaml);
// these are the operator's view and the rotation out of schedule.

func (e *env) keysCommand() *cobra.Command {
	return group("keys", "List and rotate the keys that sign ID tokens (OpenID Connect)",
		e.keysListCommand(), e.keysRotateCommand())
}

// keyView is a signing key as the CLI shows it; never its private half.
type keyView struct {
	ID         string         `json:"kid"`
	Alg        string         `json:"alg"`
	State      store.KeyState `json:"state"`
	CreatedAt  time.Time      `json:"created_at"`
	ActiveFrom time.Time      `json:"active_from"`
	// PublishedUntil is when a retired key leaves the JWKS.
	PublishedUntil *time.Time `json:"published_until,omitempty"`
	WithdrawnAt    *time.Time `json:"withdrawn_at,omitempty"`
}

func keyViews(ring store.KeyRing, now time.Time) []keyView {
	out := make([]keyView, 0, len(ring.Keys))
	for _, k := range ring.Keys {
		st, until := ring.State(k, now)
		v := keyView{ID: k.ID, Alg: k.Alg, State: st, CreatedAt: k.CreatedAt, ActiveFrom: k.ActiveFrom}
		if !until.IsZero() {
			v.PublishedUntil = &until
		}
		if !k.WithdrawnAt.IsZero() {
			w := k.WithdrawnAt
			v.WithdrawnAt = &w
		}
		out = append(out, v)
	}
	return out
}

func (e *env) keysListCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list",
		Short: "List the signing keys and where each is in its life",
		Long: `List the ID-token signing keys: pending (published, not signing yet), signing, retired (published
until every ID token it signed has expired), expired (to be pruned) or withdrawn (taken out of the
JWKS by rotate --now). Private keys are never printed.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				keys, err := st.SigningKeys(ctx)
				if err != nil {
					return keysError(err)
				}
				views := keyViews(store.KeyRing{Keys: keys, Policy: cfg.OIDC.KeyPolicy()}, st.Now())
				if asJSON {
					return e.writeJSON(views)
				}
				if len(views) == 0 {
					fmt.Fprintln(e.stdout, "no signing keys yet: the server makes them when it starts")
					return nil
				}
				w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "KID\tALG\tSTATE\tSIGNS FROM\tPUBLISHED UNTIL")
				for _, v := range views {
					until := "-"
					if v.PublishedUntil != nil {
						until = v.PublishedUntil.UTC().Format(time.RFC3339)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Alg, v.State, v.ActiveFrom.UTC().Format(time.RFC3339), until)
				}
				return w.Flush()
			})
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")
	return c
}

func (e *env) keysRotateCommand() *cobra.Command {
	var algs []string
	var now, asJSON bool
	c := &cobra.Command{
		Use:   "rotate [--alg RS256|ES256] [--now]",
		Short: "Add the next signing key out of schedule",
		Long: `Add the next signing key of each algorithm (or of --alg): it is published in the JWKS at once and
signs from oidc.keys.publish_ahead later, so that every client's cached JWKS has it first; the key
it replaces stays published until the ID tokens it signed have expired. A key already waiting to
sign is not replaced (the command says so).

--now is for a key that leaked: the new key signs at once and every older key of the algorithm
is withdrawn from the JWKS, so the ID tokens they signed stop verifying. Clients that cached the
JWKS keep the old key up to its max-age (at most an hour); every running instance hears of the
rotation over Redis pub/sub and signs with the new key at once.`,
		Example: `  enlace keys rotate
  enlace keys rotate --alg RS256 --now`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			for _, a := range algs {
				if !slices.Contains(store.IDTokenAlgs(), a) {
					return usageError{fmt.Sprintf("--alg %q: the algorithms are RS256 and ES256", a)}
				}
			}
			if len(algs) == 0 {
				algs = store.IDTokenAlgs()
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return e.withStore(c, func(ctx context.Context, st *store.Store) error {
				keys, err := st.SigningKeys(ctx)
				if err != nil {
					return keysError(err)
				}
				ring := store.KeyRing{Keys: keys, Policy: cfg.OIDC.KeyPolicy()}
				at := st.Now()
				var added []keyView
				say := e.stdout
				if asJSON {
					say = io.Discard
				}
				for _, alg := range algs {
					from := at.Add(cfg.OIDC.Keys.PublishAhead)
					first := ring.Signing(alg, at) == nil && pendingKey(ring, alg, at) == nil
					if now || first {
						// A first key signs at once: no client can have
						// cached a JWKS without it, and until it signs no
						// ID token could be issued.
						from = at
					} else if pending := pendingKey(ring, alg, at); pending != nil {
						fmt.Fprintf(say, "%s: key %s is already published and signs from %s; nothing added\n",
							alg, pending.ID, pending.ActiveFrom.UTC().Format(time.RFC3339))
						continue
					}
					k, err := st.AddSigningKey(ctx, store.NewSigningKey{Alg: alg, ActiveFrom: from,
						After: ring.Newest(alg), Withdraw: now, By: store.ActorCLI})
					if errors.Is(err, store.ErrConflict) {
						return fmt.Errorf("%s: the server rotated the key meanwhile; run the command again: %w", alg, err)
					}
					if err != nil {
						return keysError(err)
					}
					added = append(added, keyView{ID: k.ID, Alg: k.Alg, State: store.KeyPending, CreatedAt: k.CreatedAt,
						ActiveFrom: k.ActiveFrom})
					if now || first {
						added[len(added)-1].State = store.KeySigning
					}
					switch {
					case first:
						fmt.Fprintf(say, "%s: key %s is the first and signs now\n", alg, k.ID)
					case now:
						fmt.Fprintf(say, "%s: key %s signs now; older %s keys are withdrawn from the JWKS\n", alg, k.ID, alg)
					default:
						fmt.Fprintf(say, "%s: key %s is published and signs from %s\n", alg, k.ID,
							k.ActiveFrom.UTC().Format(time.RFC3339))
					}
				}
				if asJSON {
					return e.writeJSON(added)
				}
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringArrayVar(&algs, "alg", nil, "the algorithm to rotate, RS256 or ES256 (repeat for both; default both)")
	f.BoolVar(&now, "now", false, "sign with the new key at once and withdraw the older ones (a key that leaked)")
	f.BoolVar(&asJSON, "json", false, "print the keys added as JSON")
	return c
}

// pendingKey is alg's key waiting to sign, or nil.
func pendingKey(ring store.KeyRing, alg string, now time.Time) *store.SigningKey {
	for _, k := range ring.Keys {
		if st, _ := ring.State(k, now); k.Alg == alg && st == store.KeyPending {
			return k
		}
	}
	return nil
}

// keysError says what to do without encryption.key.
func keysError(err error) error {
	if errors.Is(err, store.ErrNoEncryptionKey) {
		return errors.New("encryption.key is not set (ENLACE_ENCRYPTION_KEY): without it enlace has no signing keys and OpenID Connect is off")
	}
	return err
}
