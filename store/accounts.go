package store

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redis/go-redis/v9"
)

// Account is someone who logs in with an email and a password: a merchant
// (a store account, the resource owner who approves apps) or an admin (an
// operator). The two live in separate key spaces and never mix.
type Account struct {
	ID           string
	Email        string
	Name         string
	PasswordHash string
	CreatedAt    time.Time
	// FirstName and LastName are the person's, for merchants who signed
	// up themselves (RegisterMerchant); Name is then both together.
	FirstName, LastName string
	// PasswordChangedAt is when an operator last set the password
	// (SetMerchantPassword, SetAdminPassword); zero when never. A session
	// that began before it is over.
	PasswordChangedAt time.Time
}

// SessionValid reports whether a session that began at loggedIn may still
// act for the account: not when the password was set since.
func (a *Account) SessionValid(loggedIn time.Time) bool {
	return a.PasswordChangedAt.IsZero() || loggedIn.After(a.PasswordChangedAt)
}

// Merchant is a store account.
type Merchant = Account

// Admin is an operator account.
type Admin = Account

// accountKind names the keys of one kind of account.
type accountKind struct {
	label    string
	key      func(id string) string
	emailKey func(email string) string
	index    string
}

func merchants() accountKind {
	return accountKind{"merchant", merchantKey, merchantEmailKey, merchantsIndexKey}
}

func admins() accountKind { return accountKind{"admin", adminKey, adminEmailKey, adminsIndexKey} }

func developers() accountKind {
	return accountKind{"developer", developerKey, developerEmailKey, developersIndexKey}
}

// ErrBadCredentials is the one answer to a failed login, whether the email
// is unknown or the password wrong.
var ErrBadCredentials = errors.New("wrong email or password")

// ValidEmail reports whether a normalized email is a bare address (no
// display name, no comment), as accounts take them, in printable ASCII:
// no zero-width, bidi or control character, and no letter of another
// script that looks like a Latin one (a Cyrillic "а"), so that no two
// accounts read the same. (International domains are written in their
// ASCII, xn-- form.)
func ValidEmail(email string) bool {
	for i := 0; i < len(email); i++ {
		if email[i] <= ' ' || email[i] >= 0x7f {
			return false
		}
	}
	addr, err := mail.ParseAddress(email)
	return email != "" && err == nil && addr.Address == email
}

// validName refuses in a person's or a store's name what makes two names
// that look alike differ, or a name display other than it reads: control,
// format (zero-width, bidi), private-use and unassigned characters, and
// letters of Latin mixed with Cyrillic or Greek in one word.
func validName(name string) error {
	for _, word := range strings.Fields(name) {
		scripts := map[string]bool{}
		for _, r := range word {
			switch {
			case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
				return fmt.Errorf("%w: the name holds a control, format or unassigned character (%U)", ErrInvalid, r)
			case unicode.In(r, unicode.Latin):
				scripts["Latin"] = true
			case unicode.In(r, unicode.Cyrillic):
				scripts["Cyrillic"] = true
			case unicode.In(r, unicode.Greek):
				scripts["Greek"] = true
			}
		}
		if len(scripts) > 1 {
			return fmt.Errorf("%w: the name %q mixes Latin, Cyrillic or Greek letters in one word", ErrInvalid, word)
		}
	}
	return nil
}

// NormalizeEmail is the form in which emails are compared and indexed.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// CreateMerchant registers a merchant. The password is hashed with argon2id;
// the email must be valid and not already registered. Nothing is written on
// any error.
func (s *Store) CreateMerchant(ctx context.Context, email, name, password string) (*Merchant, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("%w: the merchant needs a name", ErrInvalid)
	}
	if err := validName(name); err != nil {
		return nil, err
	}
	return s.createAccount(ctx, merchants(), &Account{Email: email, Name: name}, password)
}

// Registration is a merchant signing up on their own (POST /v1/users).
type Registration struct {
	FirstName, LastName, Email, Password string
}

// RegisterMerchant creates the merchant of a sign-up, with CreateMerchant's
// rules; the merchant's name is the first and last name together. Like
// CreateMerchant it hashes the password before it looks at the email, so
// a taken email costs the same time as a new one.
func (s *Store) RegisterMerchant(ctx context.Context, r Registration) (*Merchant, error) {
	first, last := strings.TrimSpace(r.FirstName), strings.TrimSpace(r.LastName)
	if first == "" || last == "" {
		return nil, fmt.Errorf("%w: a first and a last name are required", ErrInvalid)
	}
	for _, n := range []string{first, last} {
		if err := validName(n); err != nil {
			return nil, err
		}
	}
	return s.createAccount(ctx, merchants(), &Account{Email: r.Email, Name: first + " " + last,
		FirstName: first, LastName: last}, r.Password)
}

// CreateAdmin registers an admin, with the same rules as a merchant.
func (s *Store) CreateAdmin(ctx context.Context, email, password string) (*Admin, error) {
	return s.createAccount(ctx, admins(), &Account{Email: email}, password)
}

// createAccount registers m (its email, names) with password.
func (s *Store) createAccount(ctx context.Context, k accountKind, m *Account, password string) (*Account, error) {
	email := NormalizeEmail(m.Email)
	if !ValidEmail(email) {
		return nil, fmt.Errorf("%w: %q is not a valid email address", ErrInvalid, email)
	}
	if err := s.CheckPassword(password); err != nil {
		return nil, err
	}
	hash, err := s.passwords.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	m = &Account{
		ID:           NewID(),
		Email:        email,
		Name:         strings.TrimSpace(m.Name),
		FirstName:    m.FirstName,
		LastName:     m.LastName,
		PasswordHash: hash,
		CreatedAt:    s.now().UTC().Truncate(time.Millisecond),
	}
	// The email index is claimed first with SETNX so that two concurrent
	// registrations of one email cannot both succeed; the record follows.
	ok, err := s.rdb.SetNX(ctx, k.emailKey(email), m.ID, 0).Result()
	if err != nil {
		return nil, fmt.Errorf("claim %s email: %w", k.label, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a %s with email %q", ErrConflict, k.label, email)
	}
	// The record and the index live in different slots (a Redis Cluster
	// cannot put them in one MULTI): the email claim above is what makes a
	// registration unique, listing skips index entries without a record,
	// and a failure here undoes what it can.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k.key(m.ID),
			"id", m.ID,
			"email", m.Email,
			"name", m.Name,
			"password", m.PasswordHash,
			"created_at", ms(m.CreatedAt),
			"first_name", m.FirstName,
			"last_name", m.LastName,
		)
		p.ZAdd(ctx, k.index, redis.Z{Member: byCreation(ms(m.CreatedAt), m.ID)})
		return nil
	})
	if err != nil {
		// Release the email so a retry can succeed; use a fresh context in
		// case ctx is what failed.
		undo := context.WithoutCancel(ctx)
		_ = s.rdb.ZRem(undo, k.index, byCreation(ms(m.CreatedAt), m.ID)).Err()
		_ = s.rdb.Del(undo, k.key(m.ID)).Err()
		_ = s.rdb.Del(undo, k.emailKey(email)).Err()
		return nil, fmt.Errorf("create %s: %w", k.label, err)
	}
	return m, nil
}

// SetMerchantPassword replaces the password of the merchant with this id
// or email (an operator's reset), with the one password rule, and ends
// the sessions the merchant had. Nothing is written on an error.
func (s *Store) SetMerchantPassword(ctx context.Context, idOrEmail, password string) (*Merchant, error) {
	return s.setPassword(ctx, merchants(), idOrEmail, password)
}

// SetAdminPassword is SetMerchantPassword for admins.
func (s *Store) SetAdminPassword(ctx context.Context, idOrEmail, password string) (*Admin, error) {
	return s.setPassword(ctx, admins(), idOrEmail, password)
}

func (s *Store) setPassword(ctx context.Context, k accountKind, idOrEmail, password string) (*Account, error) {
	if err := s.CheckPassword(password); err != nil {
		return nil, err
	}
	var a *Account
	var err error
	if strings.Contains(idOrEmail, "@") {
		if a, err = s.findAccount(ctx, k, idOrEmail); err == nil && a == nil {
			err = ErrNotFound
		}
	} else {
		a, err = s.getAccount(ctx, k, idOrEmail)
	}
	if err != nil {
		return nil, err
	}
	hash, err := s.passwords.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	// Sessions compare their start with this, at millisecond precision,
	// so one begun in the same millisecond as the reset is over too.
	a.PasswordChangedAt = s.now().UTC().Truncate(time.Millisecond)
	a.PasswordHash = hash
	if err := s.rdb.HSet(ctx, k.key(a.ID), "password", hash, "password_changed_at", ms(a.PasswordChangedAt)).Err(); err != nil {
		return nil, fmt.Errorf("set %s password: %w", k.label, err)
	}
	return a, nil
}

// GetMerchant returns the merchant with this id, or ErrNotFound.
func (s *Store) GetMerchant(ctx context.Context, id string) (*Merchant, error) {
	return s.getAccount(ctx, merchants(), id)
}

// GetAdmin returns the admin with this id, or ErrNotFound.
func (s *Store) GetAdmin(ctx context.Context, id string) (*Admin, error) {
	return s.getAccount(ctx, admins(), id)
}

func (s *Store) getAccount(ctx context.Context, k accountKind, id string) (*Account, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	v, err := s.rdb.HGetAll(ctx, k.key(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", k.label, err)
	}
	if len(v) == 0 {
		return nil, ErrNotFound
	}
	created, _ := strconv.ParseInt(v["created_at"], 10, 64)
	changed, _ := strconv.ParseInt(v["password_changed_at"], 10, 64)
	var changedAt time.Time
	if changed > 0 {
		changedAt = fromMS(changed)
	}
	return &Account{
		PasswordChangedAt: changedAt,
		ID:                v["id"],
		Email:             v["email"],
		Name:              v["name"],
		PasswordHash:      v["password"],
		CreatedAt:         fromMS(created),
		FirstName:         v["first_name"],
		LastName:          v["last_name"],
	}, nil
}

// AccountEmails returns the email of each merchant and admin named, keyed
// by id, in one pipelined round trip (unknown ids are left out): the admin
// pages name the accounts behind a page of ids this way, at the cost of
// the page, not of the data.
func (s *Store) AccountEmails(ctx context.Context, merchantIDs, adminIDs []string) (merchantEmails, adminEmails map[string]string, err error) {
	merchantEmails, adminEmails = map[string]string{}, map[string]string{}
	if len(merchantIDs)+len(adminIDs) == 0 {
		return merchantEmails, adminEmails, nil
	}
	type lookup struct {
		id  string
		out map[string]string
		cmd *redis.StringCmd
	}
	var ls []lookup
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, set := range []struct {
			ids []string
			k   accountKind
			out map[string]string
		}{{merchantIDs, merchants(), merchantEmails}, {adminIDs, admins(), adminEmails}} {
			for _, id := range set.ids {
				if id == "" {
					continue
				}
				ls = append(ls, lookup{id: id, out: set.out, cmd: p.HGet(ctx, set.k.key(id), "email")})
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("account emails: %w", err)
	}
	// Pipelined reports only the first failure; a missing account (Nil)
	// may hide a real one behind it.
	for _, l := range ls {
		v, err := l.cmd.Result()
		switch {
		case err == nil:
			l.out[l.id] = v
		case !errors.Is(err, redis.Nil):
			return nil, nil, fmt.Errorf("account emails: %w", err)
		}
	}
	return merchantEmails, adminEmails, nil
}

// AuthenticateMerchant checks an email and password and returns the
// merchant, or ErrBadCredentials without saying which part was wrong.
func (s *Store) AuthenticateMerchant(ctx context.Context, email, password string) (*Merchant, error) {
	return s.authenticate(ctx, merchants(), email, password)
}

// AuthenticateAdmin is AuthenticateMerchant for admins.
func (s *Store) AuthenticateAdmin(ctx context.Context, email, password string) (*Admin, error) {
	return s.authenticate(ctx, admins(), email, password)
}

// FindMerchant returns the merchant with this email, or ErrNotFound, with
// the Redis work of a login and none of its password hashing.
func (s *Store) FindMerchant(ctx context.Context, email string) (*Merchant, error) {
	m, err := s.findAccount(ctx, merchants(), email)
	if err == nil && m == nil {
		return nil, ErrNotFound
	}
	return m, err
}

func (s *Store) authenticate(ctx context.Context, k accountKind, email, password string) (*Account, error) {
	m, err := s.findAccount(ctx, k, email)
	if err != nil {
		return nil, err
	}
	hash := ""
	if m != nil {
		hash = m.PasswordHash
	}
	match, err := s.passwords.compare(ctx, password, hash)
	if err != nil {
		return nil, err
	}
	if !match || m == nil {
		return nil, ErrBadCredentials
	}
	return m, nil
}

// findAccount returns the account with this email, or nil. An unknown
// email reads a record too (one that cannot exist: ids are UUIDs), so both
// answers take the same round trips.
func (s *Store) findAccount(ctx context.Context, k accountKind, email string) (*Account, error) {
	id, err := s.rdb.Get(ctx, k.emailKey(NormalizeEmail(email))).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("look up %s email: %w", k.label, err)
	}
	lookup := id
	if lookup == "" {
		lookup = "-"
	}
	m, err := s.getAccount(ctx, k, lookup)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// AccountPage is one page of accounts.
type AccountPage struct {
	Accounts []*Account
	// Next is the cursor of the following page, "" on the last.
	Next  string
	Total int
}

// ListMerchants returns a page of merchants, oldest first (Page).
func (s *Store) ListMerchants(ctx context.Context, p Page) (*AccountPage, error) {
	return s.listAccounts(ctx, merchants(), p)
}

// AllMerchants returns every merchant, page by page: for the CLI, not for
// a request path.
func (s *Store) AllMerchants(ctx context.Context) ([]*Merchant, error) {
	return all(ctx, func(ctx context.Context, p Page) ([]*Merchant, string, error) {
		page, err := s.ListMerchants(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return page.Accounts, page.Next, nil
	})
}

func (s *Store) listAccounts(ctx context.Context, k accountKind, p Page) (*AccountPage, error) {
	ids, next, total, err := s.pageByCreation(ctx, k.index, p)
	if err != nil {
		return nil, fmt.Errorf("list %ss: %w", k.label, err)
	}
	out := &AccountPage{Next: next, Total: total}
	for _, id := range ids {
		m, err := s.getAccount(ctx, k, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Accounts = append(out.Accounts, m)
	}
	return out, nil
}
