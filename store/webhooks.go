package store

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// An app's webhook: one endpoint, where the deliverer (deliveries.go,
// server/webhooks) posts the app's lifecycle events signed to the
// Standard Webhooks specification. The endpoint lives in the app's hash
// (webhook_* fields), so its changes are app.lua updates, audited like
// any other; its signing secret must be read back to sign, so it is stored
// sealed (AES-256-GCM) under the configured encryption key, never in
// clear and never as a digest.

// Webhook is an app's webhook endpoint; the zero value is none.
type Webhook struct {
	URL string
	// secret and prevSecret are the sealed signing secrets; prevSecret
	// still signs, beside the current one, until PrevUntil.
	secret, prevSecret string
	PrevUntil          time.Time
	// FailingSince is when deliveries began to fail without one success
	// since; DisabledAt when the endpoint was disabled for failing longer
	// than webhooks.disable_after (zero: it is not).
	FailingSince time.Time
	DisabledAt   time.Time
}

// Configured reports whether the app has an endpoint.
func (w Webhook) Configured() bool { return w.URL != "" }

// Active reports whether events are delivered to the endpoint.
func (w Webhook) Active() bool { return w.URL != "" && w.DisabledAt.IsZero() }

// Rotating reports whether a previous secret still signs at now.
func (w Webhook) Rotating(now time.Time) bool { return w.prevSecret != "" && now.Before(w.PrevUntil) }

func decodeWebhook(m map[string]string) Webhook {
	w := Webhook{URL: m["webhook_url"], secret: m["webhook_secret"], prevSecret: m["webhook_prev_secret"]}
	w.PrevUntil = fromMS(atoi64(m["webhook_prev_until"]))
	w.FailingSince = fromMS(atoi64(m["webhook_failing_since"]))
	w.DisabledAt = fromMS(atoi64(m["webhook_disabled_at"]))
	return w
}

func atoi64(v string) int64 {
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

// ErrNoEncryptionKey is a webhook set up, or an ID-token signing key
// made, on a server without encryption.key: the secret could not be
// stored sealed.
var ErrNoEncryptionKey = errors.New("store: encryption.key is not configured, so webhook secrets and ID-token signing keys cannot be stored")

// WebhookSecretPrefix starts a signing secret, as the Standard Webhooks
// specification writes one: whsec_ and the key in base64.
const WebhookSecretPrefix = "whsec_"

// MaxWebhookURL bounds an endpoint's URL, in bytes.
const MaxWebhookURL = 2048

// CheckWebhookURL applies the syntax rules of an endpoint: an absolute
// https URL (http too when allowHTTP, for development), without
// credentials or a fragment, at most MaxWebhookURL bytes. Where it may
// point (no private address) is the caller's to check, with DNS.
func CheckWebhookURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		return fmt.Errorf("%w: the webhook URL %q is not an absolute URL", ErrInvalid, raw)
	case len(raw) > MaxWebhookURL:
		return fmt.Errorf("%w: the webhook URL is longer than %d bytes", ErrInvalid, MaxWebhookURL)
	case u.Scheme != "https" && !(allowHTTP && u.Scheme == "http"):
		return fmt.Errorf("%w: the webhook URL %q must use https", ErrInvalid, raw)
	case u.User != nil:
		return fmt.Errorf("%w: the webhook URL must not carry credentials", ErrInvalid)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: the webhook URL must not contain a fragment", ErrInvalid)
	}
	return nil
}

// SetWebhook points the app's webhook at rawURL (CheckWebhookURL's rules)
// and enables it, also after it was disabled for failing. The first time
// it makes the signing secret and returns it, to be shown once; later it
// returns "" and the secret stays.
func (s *Store) SetWebhook(ctx context.Context, clientID, rawURL string, allowHTTP bool, by Actor) (string, *App, error) {
	if err := CheckWebhookURL(rawURL, allowHTTP); err != nil {
		return "", nil, err
	}
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return "", nil, err
	}
	fields := map[string]string{"webhook_url": rawURL, "webhook_failing_since": "", "webhook_disabled_at": "",
		"detail": "updated: webhook"}
	secret := ""
	if a.Webhook.secret == "" {
		secret = NewWebhookSecret()
		sealed, err := s.sealWebhookSecret(clientID, secret)
		if err != nil {
			return "", nil, err
		}
		fields["webhook_secret"] = sealed
	}
	expect := map[string]string{"webhook_secret": a.Webhook.secret}
	if _, err := s.changeAppIf(ctx, clientID, "update", by, fields, expect); err != nil {
		return "", nil, err
	}
	a, err = s.GetApp(ctx, clientID)
	return secret, a, err
}

// RemoveWebhook removes the app's endpoint and its secrets: events are no
// longer delivered, and a new endpoint gets a new secret.
func (s *Store) RemoveWebhook(ctx context.Context, clientID string, by Actor) error {
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return err
	}
	if !a.Webhook.Configured() {
		return fmt.Errorf("%w: the app has no webhook", ErrInvalid)
	}
	_, err = s.changeApp(ctx, clientID, "update", by, map[string]string{"webhook_url": "", "webhook_secret": "",
		"webhook_prev_secret": "", "webhook_prev_until": "", "webhook_failing_since": "", "webhook_disabled_at": "",
		"detail": "webhook removed"})
	return err
}

// RotateWebhookSecret makes a new signing secret and returns it, to be
// shown once; the one it replaces signs beside it for overlap (0 means
// DefaultSecretOverlap; at most MaxSecretOverlap), so a receiver can
// switch without missing an event.
func (s *Store) RotateWebhookSecret(ctx context.Context, clientID string, overlap time.Duration, by Actor) (string, *App, error) {
	overlap, err := checkOverlap(overlap)
	if err != nil {
		return "", nil, err
	}
	a, err := s.GetApp(ctx, clientID)
	if err != nil {
		return "", nil, err
	}
	if !a.Webhook.Configured() {
		return "", nil, fmt.Errorf("%w: the app has no webhook", ErrInvalid)
	}
	secret := NewWebhookSecret()
	sealed, err := s.sealWebhookSecret(clientID, secret)
	if err != nil {
		return "", nil, err
	}
	until := s.now().Add(overlap).UTC().Truncate(time.Millisecond)
	fields := map[string]string{"webhook_secret": sealed, "webhook_prev_secret": a.Webhook.secret,
		"webhook_prev_until": strconv.FormatInt(ms(until), 10),
		"detail":             "webhook secret rotated; the previous one signs until " + until.Format(time.RFC3339)}
	if _, err := s.changeAppIf(ctx, clientID, "update", by, fields, map[string]string{"webhook_secret": a.Webhook.secret}); err != nil {
		return "", nil, err
	}
	a, err = s.GetApp(ctx, clientID)
	return secret, a, err
}

// NewWebhookSecret returns a new signing secret: whsec_ and 32 random
// bytes in base64.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// WebhookSecrets are the secrets that sign the app's deliveries at now:
// the current one, and the previous one during a rotation's overlap.
func (s *Store) WebhookSecrets(clientID string, w Webhook, now time.Time) ([]string, error) {
	var out []string
	for _, sealed := range []string{w.secret, map[bool]string{true: w.prevSecret}[w.Rotating(now)]} {
		if sealed == "" {
			continue
		}
		v, err := s.openWebhookSecret(clientID, sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// webhookSealLabel binds a sealed secret to its purpose; the client id is
// added, so a sealed secret copied to another app does not open.
const webhookSealLabel = "enlace/webhook-secret/v1:"

func (s *Store) sealWebhookSecret(clientID, secret string) (string, error) {
	return s.sealAtRest(webhookSealLabel+clientID, []byte(secret))
}

func (s *Store) openWebhookSecret(clientID, sealed string) (string, error) {
	plain, err := s.openAtRest(webhookSealLabel+clientID, sealed)
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return string(plain), nil
}

// EncryptionKeyBytes is the length of encryption.key: AES-256.
const EncryptionKeyBytes = 32

// WebhookOf reads an app's endpoint from Redis, a deleted app's too (its
// tombstone keeps it, so the ends of its connections are still told).
func (s *Store) WebhookOf(ctx context.Context, clientID string) (Webhook, error) {
	fields := []string{"webhook_url", "webhook_secret", "webhook_prev_secret", "webhook_prev_until",
		"webhook_failing_since", "webhook_disabled_at"}
	v, err := s.rdb.HMGet(ctx, appKey(clientID), fields...).Result()
	if err != nil {
		return Webhook{}, fmt.Errorf("read webhook: %w", err)
	}
	m := map[string]string{}
	for i, f := range fields {
		m[f], _ = v[i].(string)
	}
	return decodeWebhook(m), nil
}
