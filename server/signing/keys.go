// Package signing holds the keys that sign enlace's ID tokens as one
// instance sees them: a cache of the key set in Redis (store.SigningKeys),
// the JWS signatures (go-jose), the JWKS document, the verification of an
// ID token enlace issued (an id_token_hint), and the schedule that rotates
// the keys. Every instance runs the schedule; the store's compare-and-add
// (lua/keys.lua) lets exactly one of them add each key.
package signing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/enlace-oauth/enlace/store"
)

// Store is what the keys need of the store.
type Store interface {
	SigningKeys(ctx context.Context) ([]*store.SigningKey, error)
	AddSigningKey(ctx context.Context, k store.NewSigningKey) (*store.SigningKey, error)
	PruneSigningKeys(ctx context.Context, kids []string) error
	// WatchSigningKeys receives when any instance changed the set.
	WatchSigningKeys(ctx context.Context) <-chan struct{}
	Now() time.Time
}

// Options configure the keys.
type Options struct {
	Policy store.KeyPolicy
	// Reload is how often the key set is read again from Redis (10 s
	// when 0): how soon an instance sees a key another one added. A
	// scheduled key is published PublishAhead before it signs, so only
	// an emergency rotation waits on this.
	Reload time.Duration
	Logger *slog.Logger
}

// Keys is one instance's view of the signing keys.
type Keys struct {
	st   Store
	opts Options

	// reloading lets one caller at a time read the set on the request
	// path (current); tending, one Tend at a time.
	reloading, tending sync.Mutex
	mu                 sync.Mutex
	ring               store.KeyRing
	loaded             time.Time
	// signers are go-jose signers by key id, made once per key.
	signers map[string]jose.Signer
}

// New returns the keys over the store; nothing is read until first use.
func New(st Store, opts Options) *Keys {
	if opts.Reload <= 0 {
		opts.Reload = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Keys{st: st, opts: opts, ring: store.KeyRing{Policy: opts.Policy}, signers: map[string]jose.Signer{}}
}

// MaxAge is how long a client may cache the JWKS: half the time a new
// key is published before it signs (so a cached copy always has it in
// time), and at most an hour (so that a key withdrawn in an emergency
// leaves the caches soon).
func (k *Keys) MaxAge() time.Duration {
	return min(k.opts.Policy.PublishAhead/2, time.Hour)
}

// Run keeps the key set fresh and the schedule kept until ctx ends: every
// Reload, and whenever an instance announces a change, it reads the set,
// adds the keys that are due and prunes those past their retention.
func (k *Keys) Run(ctx context.Context) {
	t := time.NewTicker(k.opts.Reload)
	defer t.Stop()
	// A change announced by any instance (an emergency rotation above all)
	// is read at once, not at the next tick.
	changed := k.st.WatchSigningKeys(ctx)
	failing := false
	for {
		err := k.Tend(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			k.opts.Logger.Warn("signing keys: could not tend the key set; retrying", "err", err)
			failing = true
		case err == nil && failing:
			k.opts.Logger.Info("signing keys: tended again")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
		}
	}
}

// Tend reads the set, adds what is due and prunes what is over: what Run
// does every Reload.
func (k *Keys) Tend(ctx context.Context) error {
	// One at a time: on a new deployment every request would otherwise
	// make its own RSA key, all but one to lose the compare-and-add.
	k.tending.Lock()
	defer k.tending.Unlock()
	ring, err := k.reload(ctx)
	if err != nil {
		return err
	}
	now := k.st.Now()
	added := false
	for _, nk := range ring.Due(now) {
		key, err := k.st.AddSigningKey(ctx, nk)
		if errors.Is(err, store.ErrConflict) {
			added = true // another instance was first: read its key
			continue
		}
		if err != nil {
			return fmt.Errorf("add %s key: %w", nk.Alg, err)
		}
		added = true
		k.opts.Logger.Info("signing key added", "kid", key.ID, "alg", key.Alg, "signs_from", key.ActiveFrom)
	}
	if expired := ring.Expired(now); len(expired) > 0 {
		if err := k.st.PruneSigningKeys(ctx, expired); err != nil {
			return err
		}
		added = true
		k.opts.Logger.Info("signing keys pruned", "kids", expired)
	}
	if added {
		_, err = k.reload(ctx)
	}
	return err
}

// reload reads the key set from Redis.
func (k *Keys) reload(ctx context.Context) (store.KeyRing, error) {
	started := time.Now()
	keys, err := k.st.SigningKeys(ctx)
	if err != nil {
		return store.KeyRing{}, fmt.Errorf("read signing keys: %w", err)
	}
	ring := store.KeyRing{Keys: keys, Policy: k.opts.Policy}
	k.mu.Lock()
	defer k.mu.Unlock()
	if started.Before(k.loaded) {
		// A read that began later finished first: its set is newer.
		return k.ring, nil
	}
	k.ring, k.loaded = ring, started
	live := map[string]bool{}
	for _, key := range keys {
		live[key.ID] = true
	}
	for id := range k.signers {
		if !live[id] {
			delete(k.signers, id)
		}
	}
	return ring, nil
}

// current returns the ring. Run reads it again every Reload; a ring older
// than three of those (Run is not running, or Redis failed) is read again
// here, by one caller at a time: under load, every request finding it
// stale at once would each read and decrypt the set.
func (k *Keys) current(ctx context.Context) (store.KeyRing, error) {
	k.mu.Lock()
	ring, fresh := k.ring, time.Since(k.loaded) < 3*k.opts.Reload
	k.mu.Unlock()
	if fresh && ring.Keys != nil {
		return ring, nil
	}
	k.reloading.Lock()
	defer k.reloading.Unlock()
	k.mu.Lock()
	ring, fresh = k.ring, time.Since(k.loaded) < 3*k.opts.Reload
	k.mu.Unlock()
	if fresh && ring.Keys != nil {
		return ring, nil // another caller read it meanwhile
	}
	return k.reload(ctx)
}

// Ring is the key set as this instance has it.
func (k *Keys) Ring(ctx context.Context) (store.KeyRing, error) { return k.current(ctx) }

// signer returns the signing key of alg now and its go-jose signer. With
// no key of alg yet (a new deployment, before Run's first pass), the set
// is tended on the spot.
func (k *Keys) signer(ctx context.Context, alg string) (jose.Signer, error) {
	ring, err := k.current(ctx)
	if err != nil {
		return nil, err
	}
	key := ring.Signing(alg, k.st.Now())
	if key == nil {
		if err := k.Tend(ctx); err != nil {
			return nil, err
		}
		k.mu.Lock()
		ring = k.ring
		k.mu.Unlock()
		if key = ring.Signing(alg, k.st.Now()); key == nil {
			return nil, fmt.Errorf("%w: %s", store.ErrNoSigningKey, alg)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if s, ok := k.signers[key.ID]; ok {
		return s, nil
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg),
		Key: jose.JSONWebKey{Key: key.Signer, KeyID: key.ID, Algorithm: alg, Use: "sig"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("signer for key %s: %w", key.ID, err)
	}
	k.signers[key.ID] = s
	return s, nil
}

// Ready makes sure a key of alg signs now (tending the set when none
// does), so that a grant can refuse before it issues anything rather
// than fail to sign after.
func (k *Keys) Ready(ctx context.Context, alg string) error {
	_, err := k.signer(ctx, alg)
	return err
}

// Sign signs claims (a JSON-encodable value) as a JWT with alg's key.
func (k *Keys) Sign(ctx context.Context, alg string, claims any) (string, error) {
	s, err := k.signer(ctx, alg)
	if err != nil {
		return "", err
	}
	out, err := jwt.Signed(s).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign ID token: %w", err)
	}
	return out, nil
}

// JWKS is the published public keys.
func (k *Keys) JWKS(ctx context.Context) (jose.JSONWebKeySet, error) {
	ring, err := k.current(ctx)
	if err != nil {
		return jose.JSONWebKeySet{}, err
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, key := range ring.Published(k.st.Now()) {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: key.Public(), KeyID: key.ID, Algorithm: key.Alg, Use: "sig"})
	}
	return set, nil
}

// ErrUnverified is a token that is not an intact JWS of a published key.
var ErrUnverified = errors.New("the token is not signed by one of enlace's published keys")

// Verify checks that raw is a compact JWS that one of the published keys
// signed, and decodes its claims into dest. Its time claims are not
// checked: the caller decides (an id_token_hint may have expired).
func (k *Keys) Verify(ctx context.Context, raw string, dest any) error {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil || len(tok.Headers) != 1 {
		return ErrUnverified
	}
	ring, err := k.current(ctx)
	if err != nil {
		return err
	}
	h := tok.Headers[0]
	key := ring.Find(h.KeyID, k.st.Now())
	if key == nil || key.Alg != h.Algorithm {
		return ErrUnverified
	}
	if err := tok.Claims(key.Public(), dest); err != nil {
		return ErrUnverified
	}
	return nil
}
