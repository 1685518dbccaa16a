package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Developer is a person who builds third-party apps and owns them in the
// developer portal. Developers log in with an email and a password, with
// the merchants' rules, in a key space of their own.
type Developer = Account

// CreateDeveloper registers a developer, with CreateMerchant's rules.
func (s *Store) CreateDeveloper(ctx context.Context, email, name, password string) (*Developer, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%w: the developer needs a name", ErrInvalid)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	return s.createAccount(ctx, developers(), &Account{Email: email, Name: name}, password)
}

// GetDeveloper returns the developer with this id, or ErrNotFound.
func (s *Store) GetDeveloper(ctx context.Context, id string) (*Developer, error) {
	return s.getAccount(ctx, developers(), id)
}

// FindDeveloper returns the developer with this email, or ErrNotFound.
func (s *Store) FindDeveloper(ctx context.Context, email string) (*Developer, error) {
	d, err := s.findAccount(ctx, developers(), email)
	if err == nil && d == nil {
		return nil, ErrNotFound
	}
	return d, err
}

// AuthenticateDeveloper is AuthenticateMerchant for developers.
func (s *Store) AuthenticateDeveloper(ctx context.Context, email, password string) (*Developer, error) {
	return s.authenticate(ctx, developers(), email, password)
}

// SetDeveloperPassword is SetMerchantPassword for developers.
func (s *Store) SetDeveloperPassword(ctx context.Context, idOrEmail, password string) (*Developer, error) {
	return s.setPassword(ctx, developers(), idOrEmail, password)
}

// ListDevelopers returns a page of developers, oldest first.
func (s *Store) ListDevelopers(ctx context.Context, p Page) (*AccountPage, error) {
	return s.listAccounts(ctx, developers(), p)
}

// AllDevelopers returns every developer, page by page: for the CLI.
func (s *Store) AllDevelopers(ctx context.Context) ([]*Developer, error) {
	return all(ctx, func(ctx context.Context, p Page) ([]*Developer, string, error) {
		page, err := s.ListDevelopers(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return page.Accounts, page.Next, nil
	})
}

// InviteLifetime is how long a developer invitation can be used.
const InviteLifetime = 7 * 24 * time.Hour

// InviteDeveloper makes a one-use invitation for email to sign up as a
// developer (when sign-up is invite-only) and returns its token, shown
// only here (the link the invitee opens carries it).
func (s *Store) InviteDeveloper(ctx context.Context, email string) (string, error) {
	email = NormalizeEmail(email)
	if !ValidEmail(email) {
		return "", fmt.Errorf("%w: %q is not a valid email address", ErrInvalid, email)
	}
	tok := "inv-" + NewSecret()
	if err := s.rdb.Set(ctx, developerInviteKey(Digest(tok)), email, InviteLifetime).Err(); err != nil {
		return "", fmt.Errorf("invite developer: %w", err)
	}
	return tok, nil
}

// InvitedEmail returns the email an invitation is for, without using it,
// or ErrNotFound for an unknown, used or expired one.
func (s *Store) InvitedEmail(ctx context.Context, tok string) (string, error) {
	email, err := s.rdb.Get(ctx, developerInviteKey(Digest(tok))).Result()
	if errors.Is(err, redis.Nil) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read invitation: %w", err)
	}
	return email, nil
}

// AcceptInvitation registers the developer an invitation is for, with
// name and password, and uses it up. The invitation is taken first, so two
// sign-ups with one invitation cannot both succeed; an invalid name or
// password gives it back.
func (s *Store) AcceptInvitation(ctx context.Context, tok, name, password string) (*Developer, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%w: the developer needs a name", ErrInvalid)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := s.CheckPassword(password); err != nil {
		return nil, err
	}
	key := developerInviteKey(Digest(tok))
	email, err := s.rdb.GetDel(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("use invitation: %w", err)
	}
	d, err := s.CreateDeveloper(ctx, email, name, password)
	if err != nil && !errors.Is(err, ErrConflict) {
		_ = s.rdb.Set(context.WithoutCancel(ctx), key, email, InviteLifetime).Err()
	}
	return d, err
}

// InitialAccessLifetime is how long an RFC 7591 initial access token works
// unless its maker says otherwise.
const InitialAccessLifetime = 30 * 24 * time.Hour

// InitialAccess is what an RFC 7591 initial access token stands for.
type InitialAccess struct {
	DeveloperID string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// CreateInitialAccessToken makes an RFC 7591 initial access token for a
// developer: a bearer token that registers apps at /oauth/register on
// their behalf, any number of times until it expires (ttl; 0 means
// InitialAccessLifetime). Only its digest is stored.
func (s *Store) CreateInitialAccessToken(ctx context.Context, developerID string, ttl time.Duration) (string, *InitialAccess, error) {
	if ttl == 0 {
		ttl = InitialAccessLifetime
	}
	if ttl < 0 || ttl > 365*24*time.Hour {
		return "", nil, fmt.Errorf("%w: an initial access token lives from a moment to a year", ErrInvalid)
	}
	if _, err := s.GetDeveloper(ctx, developerID); err != nil {
		return "", nil, err
	}
	tok := "iat-" + NewSecret()
	now := s.now().UTC().Truncate(time.Millisecond)
	ia := &InitialAccess{DeveloperID: developerID, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	key := initialAccessKey(Digest(tok))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "developer_id", developerID, "created_at", ms(now), "expires_at", ms(ia.ExpiresAt))
		p.PExpireAt(ctx, key, ia.ExpiresAt)
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("create initial access token: %w", err)
	}
	return tok, ia, nil
}

// InitialAccessToken returns what an initial access token stands for, or
// ErrNotFound for an unknown or expired one.
func (s *Store) InitialAccessToken(ctx context.Context, tok string) (*InitialAccess, error) {
	if !strings.HasPrefix(tok, "iat-") {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HMGet(ctx, initialAccessKey(Digest(tok)), "developer_id", "created_at", "expires_at").Result()
	if err != nil {
		return nil, fmt.Errorf("read initial access token: %w", err)
	}
	dev, _ := v[0].(string)
	if dev == "" {
		return nil, ErrNotFound
	}
	ia := &InitialAccess{DeveloperID: dev}
	if c, ok := v[1].(string); ok {
		n, _ := strconv.ParseInt(c, 10, 64)
		ia.CreatedAt = fromMS(n)
	}
	if e, ok := v[2].(string); ok {
		n, _ := strconv.ParseInt(e, 10, 64)
		ia.ExpiresAt = fromMS(n)
	}
	if !s.now().Before(ia.ExpiresAt) {
		return nil, ErrNotFound
	}
	return ia, nil
}

// DeveloperEmails returns the email of each developer named, keyed by id,
// in one pipelined round trip (unknown ids are left out), as AccountEmails
// does for merchants and admins: the admin pages and `enlace app show` name
// an app's owner this way.
func (s *Store) DeveloperEmails(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	cmds := make(map[string]*redis.StringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			if id != "" {
				cmds[id] = p.HGet(ctx, developerKey(id), "email")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("developer emails: %w", err)
	}
	for id, c := range cmds {
		v, err := c.Result()
		switch {
		case err == nil:
			out[id] = v
		case !errors.Is(err, redis.Nil):
			return nil, fmt.Errorf("developer emails: %w", err)
		}
	}
	return out, nil
}
