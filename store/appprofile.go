package store

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AppStatus is where an app is in its lifecycle.
type AppStatus string

// The lifecycle: a developer's app starts in development (only its test
// merchants may connect it), is submitted for review, and an admin
// publishes it (shown with a verified mark) or sends it back to
// development with a reason. Suspension is Disabled, at any status.
const (
	StatusDevelopment AppStatus = "development"
	StatusReview      AppStatus = "review"
	StatusPublished   AppStatus = "published"
)

// Profile is what merchants see of an app besides its name, on the
// consent page and on their connections.
type Profile struct {
	Description string
	Publisher   string
	// Homepage, PrivacyPolicy and Terms are https URLs.
	Homepage, PrivacyPolicy, Terms string
	SupportEmail                   string
	// Logo is the fingerprint of the app's logo (LogoPNG), "" for none.
	Logo string
}

// Bounds of the profile's text.
const (
	maxDescription = 1000
	maxProfileText = 200
)

// normalize trims the profile and checks it: text within bounds and free of
// control characters, links absolute https URLs, the email valid.
func (p Profile) normalize() (Profile, error) {
	p.Description = strings.TrimSpace(p.Description)
	p.Publisher = strings.TrimSpace(p.Publisher)
	p.SupportEmail = NormalizeEmail(p.SupportEmail)
	if utf8.RuneCountInString(p.Description) > maxDescription {
		return p, fmt.Errorf("%w: the description is longer than %d characters", ErrInvalid, maxDescription)
	}
	if utf8.RuneCountInString(p.Publisher) > maxProfileText {
		return p, fmt.Errorf("%w: the publisher is longer than %d characters", ErrInvalid, maxProfileText)
	}
	if p.Publisher != "" {
		if err := validName(p.Publisher); err != nil {
			return p, err
		}
	}
	for _, r := range p.Description {
		if r < 0x20 && r != '\n' || r == 0x7f {
			return p, fmt.Errorf("%w: the description holds a control character", ErrInvalid)
		}
	}
	for _, l := range []struct {
		name string
		v    *string
	}{{"homepage", &p.Homepage}, {"privacy policy", &p.PrivacyPolicy}, {"terms", &p.Terms}} {
		*l.v = strings.TrimSpace(*l.v)
		if *l.v == "" {
			continue
		}
		if err := ValidateHTTPSURL(l.name, *l.v); err != nil {
			return p, err
		}
	}
	if p.SupportEmail != "" && !ValidEmail(p.SupportEmail) {
		return p, fmt.Errorf("%w: the support email %q is not a valid email address", ErrInvalid, p.SupportEmail)
	}
	return p, nil
}

// ValidateHTTPSURL checks that v, the app's link called name, is an
// absolute https URL with a host, no credentials and no fragment, at most
// 2000 characters.
func ValidateHTTPSURL(name, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || len(v) > 2000 {
		return fmt.Errorf("%w: the %s %q must be an absolute https URL", ErrInvalid, name, v)
	}
	return nil
}

// profileFields are the app hash's fields of p.
func profileFields(p Profile) map[string]any {
	f := map[string]any{}
	for k, v := range map[string]string{"description": p.Description, "publisher": p.Publisher,
		"homepage": p.Homepage, "privacy_url": p.PrivacyPolicy, "terms_url": p.Terms,
		"support_email": p.SupportEmail, "logo": p.Logo} {
		if v != "" {
			f[k] = v
		}
	}
	return f
}

func decodeProfile(m map[string]string) Profile {
	return Profile{Description: m["description"], Publisher: m["publisher"], Homepage: m["homepage"],
		PrivacyPolicy: m["privacy_url"], Terms: m["terms_url"], SupportEmail: m["support_email"], Logo: m["logo"]}
}

// MayConnect reports whether merchantID may approve the app: a published
// app anyone; one in development or in review only its test merchants
// (until an admin publishes it). A disabled (suspended) app nobody.
func (a *App) MayConnect(merchantID string) bool {
	if a.Disabled {
		return false
	}
	if a.Status == StatusPublished {
		return true
	}
	return slices.Contains(a.TestMerchants, merchantID)
}

// Verified reports whether the app carries the verified mark: an admin
// reviewed and published it (an operator's own apps are published too).
func (a *App) Verified() bool { return a.Status == StatusPublished }

// SecretMatches reports whether secret authenticates the app at now: its
// current secret, or the one a rotation replaced until that one's
// deadline. Both comparisons always run, in constant time, so timing does
// not tell which matched (or whether there is a previous one).
func (a *App) SecretMatches(secret string, now time.Time) bool {
	if secret == "" {
		return false
	}
	cur := DigestEqual(secret, a.SecretDigest)
	prevDigest := a.PrevSecretDigest
	if !now.Before(a.PrevSecretUntil) {
		prevDigest = ""
	}
	prev := DigestEqual(secret, prevDigest)
	return subtle.ConstantTimeEq(boolInt(cur)|boolInt(prev), 1) == 1
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// Secret rotation bounds: the previous secret's overlap.
const (
	DefaultSecretOverlap = 24 * time.Hour
	MaxSecretOverlap     = 7 * 24 * time.Hour
)

// RotateSecret gives a confidential app a new secret, returned only here;
// the secret it had keeps authenticating for overlap (DefaultSecretOverlap
// when 0, at most MaxSecretOverlap), so the app can deploy the new one
// without downtime. A secret replaced by an earlier rotation stops now.
func (s *Store) RotateSecret(ctx context.Context, clientID string, overlap time.Duration, by Actor) (string, *App, error) {
	overlap, err := checkOverlap(overlap)
	if err != nil {
		return "", nil, err
	}
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return "", nil, err
	}
	if a.Public {
		return "", nil, fmt.Errorf("%w: a public app has no secret to rotate", ErrInvalid)
	}
	secret := NewSecret()
	until := s.now().Add(overlap).UTC().Truncate(time.Millisecond)
	fields := map[string]string{"secret": Digest(secret), "secret_prev": a.SecretDigest,
		"secret_prev_until": strconv.FormatInt(ms(until), 10),
		"detail":            "secret rotated; the previous one works until " + until.Format(time.RFC3339)}
	if _, err := s.changeAppIf(ctx, clientID, "update", by, fields, map[string]string{"secret": a.SecretDigest}); err != nil {
		return "", nil, err
	}
	a, err = s.GetApp(ctx, clientID)
	return secret, a, err
}

// RetireSecret ends the overlap of the last rotation: the previous secret
// stops authenticating now. ErrInvalid when there is none working.
func (s *Store) RetireSecret(ctx context.Context, clientID string, by Actor) error {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return err
	}
	if a.PrevSecretDigest == "" || !s.now().Before(a.PrevSecretUntil) {
		return fmt.Errorf("%w: the app has no previous secret that still works", ErrInvalid)
	}
	_, err = s.changeAppIf(ctx, clientID, "update", by,
		map[string]string{"secret_prev": "", "secret_prev_until": "0", "detail": "previous secret retired"},
		map[string]string{"secret_prev": a.PrevSecretDigest})
	return err
}

// SubmitApp sends a developer's app in development to review.
func (s *Store) SubmitApp(ctx context.Context, clientID string, by Actor) error {
	return s.lifecycle(ctx, clientID, StatusDevelopment, StatusReview, "", "submitted for review", by)
}

// ReviewApp is an admin's decision on an app in review: approve publishes
// it (the verified mark; any merchant may connect it), otherwise it goes
// back to development with reason, which the developer sees.
func (s *Store) ReviewApp(ctx context.Context, clientID string, approve bool, reason string, by Actor) error {
	reason = strings.TrimSpace(reason)
	if approve {
		return s.lifecycle(ctx, clientID, StatusReview, StatusPublished, "", "review: approved", by)
	}
	if reason == "" || utf8.RuneCountInString(reason) > maxDescription {
		return fmt.Errorf("%w: a rejection needs a reason (at most %d characters)", ErrInvalid, maxDescription)
	}
	return s.lifecycle(ctx, clientID, StatusReview, StatusDevelopment, reason, "review: rejected: "+reason, by)
}

// ErrWrongStatus is a lifecycle step from a status it does not start from.
var ErrWrongStatus = fmt.Errorf("%w: the app is not in the status this step starts from", ErrConflict)

func (s *Store) lifecycle(ctx context.Context, clientID string, from, to AppStatus, note, detail string, by Actor) error {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return err
	}
	if a.Status != from {
		return fmt.Errorf("%w (it is %s, the step needs %s)", ErrWrongStatus, a.Status, from)
	}
	_, err = s.changeAppIf(ctx, clientID, "update", by,
		map[string]string{"status": string(to), "review_note": note, "detail": detail},
		map[string]string{"status": string(from)})
	return err
}

// checkOverlap is a rotation's overlap: DefaultSecretOverlap for 0, and
// ErrInvalid outside (0, MaxSecretOverlap].
func checkOverlap(overlap time.Duration) (time.Duration, error) {
	if overlap == 0 {
		overlap = DefaultSecretOverlap
	}
	if overlap < 0 || overlap > MaxSecretOverlap {
		return 0, fmt.Errorf("%w: the overlap must be positive and at most %v", ErrInvalid, MaxSecretOverlap)
	}
	return overlap, nil
}
