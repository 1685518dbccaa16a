package store

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The keys that sign ID tokens (OpenID Connect). enlace makes them and
// keeps them in Redis, shared by every instance, their private halves
// sealed under encryption.key (AES-256-GCM, the key id in the additional
// data). A key's life is read from two times, so that every instance
// derives the same answer from the same set without anyone having to move
// a key from one state to the next:
//
//   - it is published (in the JWKS) from the moment it is stored;
//   - it signs from ActiveFrom until the next key of its algorithm's
//     ActiveFrom (the newest key whose ActiveFrom has come signs);
//   - once superseded it stays published for the retention (the longest
//     an ID token it signed can live), then it is pruned;
//   - a key withdrawn by an emergency rotation is published no more.
//
// A scheduled rotation stores the next key PublishAhead before it signs,
// so that a client's cached JWKS has it by the time a token carries it.

// SigningKey is one ID-token signing key.
type SigningKey struct {
	ID  string
	Alg string
	// Signer is the private key (*rsa.PrivateKey or *ecdsa.PrivateKey).
	Signer     crypto.Signer
	CreatedAt  time.Time
	ActiveFrom time.Time
	// WithdrawnAt is when an emergency rotation took the key out of the
	// JWKS (zero when never).
	WithdrawnAt time.Time
}

// Public is the key's public half.
func (k *SigningKey) Public() crypto.PublicKey { return k.Signer.Public() }

// storedKey is a key as its field of the signing-keys hash holds it.
type storedKey struct {
	ID          string `json:"kid"`
	Alg         string `json:"alg"`
	CreatedAt   int64  `json:"created_at"`
	ActiveFrom  int64  `json:"active_from"`
	WithdrawnAt int64  `json:"withdrawn_at,omitempty"`
	// Sealed is the PKCS #8 private key, sealed under encryption.key.
	Sealed string `json:"sealed"`
}

// signingKeySealLabel binds a sealed private key to its purpose and id.
const signingKeySealLabel = "enlace/signing-key/v1:"

// generateKey makes a new private key for alg: RSA 2048 or P-256.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("%w: %q is not a signing algorithm enlace uses (RS256, ES256)", ErrInvalid, alg)
}

// SigningKeys returns every stored key, by algorithm and then ActiveFrom,
// private halves opened. Without encryption.key it is ErrNoEncryptionKey.
func (s *Store) SigningKeys(ctx context.Context) ([]*SigningKey, error) {
	if len(s.encryptionKey) == 0 {
		return nil, ErrNoEncryptionKey
	}
	m, err := s.rdb.HGetAll(ctx, signingKeysKey).Result()
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	out := make([]*SigningKey, 0, len(m))
	for _, v := range m {
		k, err := s.decodeSigningKey(v)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	sortKeys(out)
	return out, nil
}

func sortKeys(keys []*SigningKey) {
	slices.SortFunc(keys, func(a, b *SigningKey) int {
		if a.Alg != b.Alg {
			return compareStrings(a.Alg, b.Alg)
		}
		if c := a.ActiveFrom.Compare(b.ActiveFrom); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *Store) decodeSigningKey(v string) (*SigningKey, error) {
	var sk storedKey
	if err := json.Unmarshal([]byte(v), &sk); err != nil {
		return nil, fmt.Errorf("decode signing key: %w", err)
	}
	der, err := s.openAtRest(signingKeySealLabel+sk.ID, sk.Sealed)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.ID, err)
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", sk.ID, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not a signing key", sk.ID)
	}
	k := &SigningKey{ID: sk.ID, Alg: sk.Alg, Signer: signer, CreatedAt: fromMS(sk.CreatedAt), ActiveFrom: fromMS(sk.ActiveFrom)}
	if sk.WithdrawnAt > 0 {
		k.WithdrawnAt = fromMS(sk.WithdrawnAt)
	}
	return k, nil
}

// NewSigningKey is a key to add: its algorithm, when it starts signing,
// and the newest key of the algorithm the caller saw ("" for none), so
// that of several instances deciding on the same rotation only the first
// stores its key. Withdraw, for an emergency rotation (a key that leaked),
// takes every older key of the algorithm out of the JWKS at once: ID
// tokens they signed stop verifying.
type NewSigningKey struct {
	Alg        string
	ActiveFrom time.Time
	After      string
	Withdraw   bool
	By         Actor
}

// KeysArgs are the arguments of lua/keys.lua.
type KeysArgs struct {
	Op       string   `json:"op"`
	Key      string   `json:"key,omitempty"`
	Kid      string   `json:"kid,omitempty"`
	Alg      string   `json:"alg,omitempty"`
	After    string   `json:"after"`
	Withdraw bool     `json:"withdraw,omitempty"`
	Prune    []string `json:"prune,omitempty"`
	Detail   string   `json:"detail,omitempty"`
	Now      Millis   `json:"now"`
	Actor    Actor    `json:"actor"`
	AuditMax int64    `json:"audit_max"`
}

// KeysResult is the answer of lua/keys.lua.
type KeysResult struct {
	verdict
	// Newest is the newest key of the algorithm when the add was refused.
	Newest string `json:"newest,omitempty"`
}

var keysScript = newScript[KeysArgs, KeysResult]("keys", false)

// AddSigningKey makes a key and stores it, sealed, with its audit event.
// It is ErrConflict when the newest key of the algorithm is no longer
// k.After (another instance rotated first).
func (s *Store) AddSigningKey(ctx context.Context, k NewSigningKey) (*SigningKey, error) {
	if len(s.encryptionKey) == 0 {
		return nil, ErrNoEncryptionKey
	}
	signer, err := generateKey(k.Alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	key := &SigningKey{ID: NewID(), Alg: k.Alg, Signer: signer, CreatedAt: now,
		ActiveFrom: k.ActiveFrom.UTC().Truncate(time.Millisecond)}
	if key.ActiveFrom.Before(now) {
		key.ActiveFrom = now
	}
	sealed, err := s.sealAtRest(signingKeySealLabel+key.ID, der)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(storedKey{ID: key.ID, Alg: key.Alg, CreatedAt: ms(now), ActiveFrom: ms(key.ActiveFrom), Sealed: sealed})
	if err != nil {
		return nil, fmt.Errorf("encode signing key: %w", err)
	}
	by := k.By
	if by == "" {
		by = ActorCLI
	}
	// Fixed words (consent/audit.go reads them), the moment last.
	detail := fmt.Sprintf("%s signing key added; it signs from %s", key.Alg, key.ActiveFrom.Format(time.RFC3339))
	if k.Withdraw {
		detail = fmt.Sprintf("%s signing key added, signing at once; older %s keys withdrawn", key.Alg, key.Alg)
	}
	res, err := keysScript.run(ctx, s.rdb, signingKeysKeys(), KeysArgs{Op: "add", Key: string(raw), Kid: key.ID, Alg: key.Alg,
		After: k.After, Withdraw: k.Withdraw, Detail: detail, Now: MillisOf(now), Actor: by, AuditMax: s.Transitions().auditMax})
	if err != nil {
		return nil, fmt.Errorf("add signing key: %w", err)
	}
	if err := res.check("keys", OutcomeOK, OutcomeRefused); err != nil {
		return nil, err
	}
	if res.Outcome == OutcomeRefused {
		return nil, fmt.Errorf("%w: the newest %s key is %s now, not %q", ErrConflict, k.Alg, res.Newest, k.After)
	}
	s.observe(Event{Type: EventKeys, Actor: by, Detail: detail})
	s.announceKeys(ctx)
	return key, nil
}

// announceKeys tells every instance that the key set changed, so that an
// emergency rotation is seen at once rather than at the next reload. A
// lost announcement only waits for that reload.
func (s *Store) announceKeys(ctx context.Context) {
	if err := s.rdb.Publish(context.WithoutCancel(ctx), KeysChannel, "changed").Err(); err != nil {
		s.log.Warn("announce signing keys", "err", err)
	}
}

// WatchSigningKeys returns a channel that receives when the key set
// changed (AddSigningKey, PruneSigningKeys, on any instance), until ctx
// ends. go-redis keeps the subscription alive and resubscribes after a
// broken connection; what is announced meanwhile is missed.
func (s *Store) WatchSigningKeys(ctx context.Context) <-chan struct{} {
	out := make(chan struct{}, 1)
	ps := s.rdb.Subscribe(ctx, KeysChannel)
	go func() {
		defer ps.Close()
		msgs := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-msgs:
				if !ok {
					return
				}
				select {
				case out <- struct{}{}:
				default: // one pending signal stands for any number
				}
			}
		}
	}()
	return out
}

// PruneSigningKeys deletes the keys named, with one audit event.
func (s *Store) PruneSigningKeys(ctx context.Context, kids []string) error {
	if len(kids) == 0 {
		return nil
	}
	res, err := keysScript.run(ctx, s.rdb, signingKeysKeys(), KeysArgs{Op: "prune", Prune: kids,
		Detail: fmt.Sprintf("%d retired keys removed from the JWKS", len(kids)), Now: MillisOf(s.now()),
		Actor: ActorKeyRotation, AuditMax: s.Transitions().auditMax})
	if err != nil {
		return fmt.Errorf("prune signing keys: %w", err)
	}
	if err := res.check("keys", OutcomeOK, OutcomeAlready); err != nil {
		return err
	}
	if res.Outcome == OutcomeOK {
		s.announceKeys(ctx)
	}
	return nil
}

// KeyPolicy is the schedule of the signing keys.
type KeyPolicy struct {
	// RotateEvery is how long a key signs before the next one takes over.
	RotateEvery time.Duration
	// PublishAhead is how long before it signs a new key is published.
	PublishAhead time.Duration
	// Retain is how long a superseded key stays published: at least the
	// lifetime of the ID tokens it signed.
	Retain time.Duration
}

// KeyRing is a set of signing keys read at one moment, and the rules that
// say which of them signs, which are published, and what is due.
type KeyRing struct {
	Keys   []*SigningKey
	Policy KeyPolicy
}

// next returns the key of k's algorithm that follows k, or nil.
func (r KeyRing) next(k *SigningKey) *SigningKey {
	for _, o := range r.Keys {
		if o.Alg == k.Alg && o != k && o.WithdrawnAt.IsZero() &&
			(o.ActiveFrom.After(k.ActiveFrom) || (o.ActiveFrom.Equal(k.ActiveFrom) && o.ID > k.ID)) {
			return o
		}
	}
	return nil
}

// Signing is the key that signs alg's tokens at now, or nil when there is
// none yet.
func (r KeyRing) Signing(alg string, now time.Time) *SigningKey {
	var cur *SigningKey
	for _, k := range r.Keys {
		if k.Alg == alg && k.WithdrawnAt.IsZero() && !k.ActiveFrom.After(now) {
			cur = k // sorted by ActiveFrom: the last one that started
		}
	}
	return cur
}

// KeyState is where a key is in its life at a moment.
type KeyState string

// The states of a signing key.
const (
	KeyPending   KeyState = "pending"   // published, not signing yet
	KeySigning   KeyState = "signing"   // signs new ID tokens
	KeyRetired   KeyState = "retired"   // superseded, published until RetiredUntil
	KeyExpired   KeyState = "expired"   // superseded and past retention: to prune
	KeyWithdrawn KeyState = "withdrawn" // taken out by an emergency rotation
)

// State returns k's state at now and, for a retired key, until when it
// stays published.
func (r KeyRing) State(k *SigningKey, now time.Time) (KeyState, time.Time) {
	if !k.WithdrawnAt.IsZero() {
		return KeyWithdrawn, time.Time{}
	}
	if k.ActiveFrom.After(now) {
		return KeyPending, time.Time{}
	}
	n := r.next(k)
	if n == nil || n.ActiveFrom.After(now) {
		return KeySigning, time.Time{}
	}
	until := n.ActiveFrom.Add(r.Policy.Retain)
	if now.Before(until) {
		return KeyRetired, until
	}
	return KeyExpired, until
}

// Published are the keys of the JWKS at now.
func (r KeyRing) Published(now time.Time) []*SigningKey {
	var out []*SigningKey
	for _, k := range r.Keys {
		if st, _ := r.State(k, now); st != KeyExpired && st != KeyWithdrawn {
			out = append(out, k)
		}
	}
	return out
}

// Find returns the published key with this id, or nil.
func (r KeyRing) Find(kid string, now time.Time) *SigningKey {
	for _, k := range r.Published(now) {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

// Due returns the keys to add at now: the first key of an algorithm that
// has none (signing at once: nobody can have cached a JWKS without it),
// and the next key of one whose signing key is within PublishAhead of the
// end of its RotateEvery (signing when that ends), unless one is pending.
func (r KeyRing) Due(now time.Time) []NewSigningKey {
	var out []NewSigningKey
	for _, alg := range IDTokenAlgs() {
		var newest *SigningKey
		for _, k := range r.Keys {
			if k.Alg == alg && k.WithdrawnAt.IsZero() {
				newest = k
			}
		}
		switch {
		case newest == nil:
			out = append(out, NewSigningKey{Alg: alg, ActiveFrom: now, By: ActorKeyRotation,
				After: r.newestID(alg)})
		case newest.ActiveFrom.After(now):
			// The next key is published, waiting.
		case r.Policy.RotateEvery > 0 && !now.Before(newest.ActiveFrom.Add(r.Policy.RotateEvery-r.Policy.PublishAhead)):
			from := newest.ActiveFrom.Add(r.Policy.RotateEvery)
			if min := now.Add(r.Policy.PublishAhead); from.Before(min) {
				from = min
			}
			out = append(out, NewSigningKey{Alg: alg, ActiveFrom: from, After: r.newestID(alg), By: ActorKeyRotation})
		}
	}
	return out
}

// newestID is the id of alg's newest key, withdrawn ones too ("" for none):
// the After of an add.
func (r KeyRing) newestID(alg string) string {
	id := ""
	for _, k := range r.Keys {
		if k.Alg == alg {
			id = k.ID
		}
	}
	return id
}

// Newest is the id of alg's newest stored key ("" for none), for a
// rotation's NewSigningKey.After.
func (r KeyRing) Newest(alg string) string { return r.newestID(alg) }

// Expired are the ids of the keys past their retention, and of withdrawn
// keys: to prune.
func (r KeyRing) Expired(now time.Time) []string {
	var out []string
	for _, k := range r.Keys {
		if st, _ := r.State(k, now); st == KeyExpired || st == KeyWithdrawn && now.Sub(k.WithdrawnAt) > r.Policy.Retain {
			out = append(out, k.ID)
		}
	}
	return out
}

// ErrNoSigningKey is a signature asked of a ring that has no signing key
// of the algorithm (yet).
var ErrNoSigningKey = errors.New("no signing key of this algorithm yet")
