package store

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/redis/go-redis/v9"
)

// Merchant is a store account: the resource owner who approves apps.
type Merchant struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
}

// ErrBadCredentials is the one answer to a failed login, whether the email
// is unknown or the password wrong.
var ErrBadCredentials = errors.New("wrong email or password")

// NormalizeEmail is the form in which emails are compared and indexed.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateMerchant registers a merchant. The password is hashed with argon2id;
// the email must be valid and not already registered. Nothing is written on
// any error.
func (s *Store) CreateMerchant(ctx context.Context, email, name, password string) (*Merchant, error) {
	email = NormalizeEmail(email)
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email {
		return nil, fmt.Errorf("%w: %q is not a valid email address", ErrInvalid, email)
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("%w: the merchant needs a name", ErrInvalid)
	}
	if password == "" {
		return nil, fmt.Errorf("%w: the password is empty", ErrInvalid)
	}
	hash, err := argon2id.CreateHash(password, argon2id.DefaultParams)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	m := &Merchant{
		ID:           NewID(),
		Email:        email,
		Name:         name,
		PasswordHash: hash,
		CreatedAt:    s.now().UTC().Truncate(time.Millisecond),
	}
	// The email index is claimed first with SETNX so that two concurrent
	// registrations of one email cannot both succeed; the record follows.
	ok, err := s.rdb.SetNX(ctx, merchantEmailKey(email), m.ID, 0).Result()
	if err != nil {
		return nil, fmt.Errorf("claim merchant email: %w", err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a merchant with email %q", ErrConflict, email)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, merchantKey(m.ID),
			"id", m.ID,
			"email", m.Email,
			"name", m.Name,
			"password", m.PasswordHash,
			"created_at", ms(m.CreatedAt),
		)
		p.ZAdd(ctx, merchantsIndexKey, redis.Z{Score: float64(ms(m.CreatedAt)), Member: m.ID})
		return nil
	})
	if err != nil {
		// Release the email so a retry can succeed; use a fresh context in
		// case ctx is what failed.
		_ = s.rdb.Del(context.WithoutCancel(ctx), merchantEmailKey(email)).Err()
		return nil, fmt.Errorf("create merchant: %w", err)
	}
	return m, nil
}

// GetMerchant returns the merchant with this id, or ErrNotFound.
func (s *Store) GetMerchant(ctx context.Context, id string) (*Merchant, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HGetAll(ctx, merchantKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("get merchant: %w", err)
	}
	if len(v) == 0 {
		return nil, ErrNotFound
	}
	created, _ := strconv.ParseInt(v["created_at"], 10, 64)
	return &Merchant{
		ID:           v["id"],
		Email:        v["email"],
		Name:         v["name"],
		PasswordHash: v["password"],
		CreatedAt:    fromMS(created),
	}, nil
}

// dummyHash is compared against when an email is unknown, so that a failed
// login costs the same argon2id work either way and timing does not tell
// which emails exist. It is made once per store with the same parameters as
// real hashes.
func (s *Store) dummyHash() string {
	s.dummyOnce.Do(func() {
		s.dummy, _ = argon2id.CreateHash(NewSecret(), argon2id.DefaultParams)
	})
	return s.dummy
}

// AuthenticateMerchant checks an email and password and returns the
// merchant, or ErrBadCredentials without saying which part was wrong.
func (s *Store) AuthenticateMerchant(ctx context.Context, email, password string) (*Merchant, error) {
	id, err := s.rdb.Get(ctx, merchantEmailKey(NormalizeEmail(email))).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up merchant email: %w", err)
	}
	var m *Merchant
	hash := s.dummyHash()
	if id != "" {
		m, err = s.GetMerchant(ctx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if m != nil {
			hash = m.PasswordHash
		}
	}
	match, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return nil, fmt.Errorf("compare password: %w", err)
	}
	if !match || m == nil {
		return nil, ErrBadCredentials
	}
	return m, nil
}

// ListMerchants returns every merchant, oldest first.
func (s *Store) ListMerchants(ctx context.Context) ([]*Merchant, error) {
	ids, err := s.rdb.ZRange(ctx, merchantsIndexKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list merchants: %w", err)
	}
	out := make([]*Merchant, 0, len(ids))
	for _, id := range ids {
		m, err := s.GetMerchant(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}
