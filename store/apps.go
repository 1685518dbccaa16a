package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// App is an OAuth client registered by an admin.
type App struct {
	ClientID     string
	Name         string
	SecretDigest string
	RedirectURIs []string
	Scopes       []string
	CreatedAt    time.Time
	Disabled     bool
	// Public apps (a browser or mobile app) cannot keep a secret: they
	// have none, authenticate with their client id alone, and must use PKCE.
	Public bool
	// RequirePKCE makes PKCE mandatory for a confidential app too.
	RequirePKCE bool
	// FirstParty apps are the platform's own front ends: they alone may
	// sign merchants in with their password (the password grant), which
	// RFC 9700 forbids for anyone else. They are confidential.
	FirstParty bool
}

// NeedsPKCE reports whether every authorization request of the app must
// carry a PKCE challenge.
func (a *App) NeedsPKCE() bool { return a.Public || a.RequirePKCE }

// AppSpec is what an admin supplies to register an app.
type AppSpec struct {
	Name         string
	RedirectURIs []string
	Scopes       []string
	Public       bool
	RequirePKCE  bool
	// FirstParty registers one of the platform's own apps (see App).
	FirstParty bool
}

// AllowsRedirect reports whether uri is one of the app's registered redirect
// URIs, compared as exact strings (RFC 9700 §4.1.3): no prefix, suffix or
// host matching of any kind.
func (a *App) AllowsRedirect(uri string) bool {
	return uri != "" && slices.Contains(a.RedirectURIs, uri)
}

// Unregistered returns the first of scopes the app is not registered
// for, or "" when it may ask for them all.
func (a *App) Unregistered(scopes []string) string {
	for _, sc := range scopes {
		if !a.AllowsScope(sc) {
			return sc
		}
	}
	return ""
}

// AllowsScope reports whether the app is registered for scope.
func (a *App) AllowsScope(scope string) bool { return slices.Contains(a.Scopes, scope) }

// ValidateRedirectURI enforces what a registered redirect URI must be: an
// absolute http(s) URI with a host and without a fragment (RFC 6749 §3.1.2).
func ValidateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: redirect URI %q does not parse: %v", ErrInvalid, raw, err)
	}
	switch {
	case !u.IsAbs():
		return fmt.Errorf("%w: redirect URI %q is not absolute", ErrInvalid, raw)
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%w: redirect URI %q must use https", ErrInvalid, raw)
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		// RFC 9700 §2.6: plain http only for apps on the merchant's own
		// machine; anywhere else the code would cross the network in clear.
		return fmt.Errorf("%w: redirect URI %q must use https (http is only for localhost)", ErrInvalid, raw)
	case u.Host == "":
		return fmt.Errorf("%w: redirect URI %q has no host", ErrInvalid, raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%w: redirect URI %q must not contain a fragment", ErrInvalid, raw)
	}
	return nil
}

// CreateApp validates spec against the scope catalogue, registers the app
// and returns it with its client secret. The secret is generated (256 bits),
// returned only here and stored only as a digest; a public app has none
// (""). Nothing is written when the spec is invalid.
func (s *Store) CreateApp(ctx context.Context, spec AppSpec, catalogue []string) (*App, string, error) {
	name := strings.TrimSpace(spec.Name)
	if name == "" {
		return nil, "", fmt.Errorf("%w: the app needs a name", ErrInvalid)
	}
	if len(spec.RedirectURIs) == 0 && !spec.FirstParty {
		// A first-party app may sign merchants in without ever sending
		// them through the consent pages.
		return nil, "", fmt.Errorf("%w: the app needs at least one redirect URI", ErrInvalid)
	}
	if spec.FirstParty && spec.Public {
		return nil, "", fmt.Errorf("%w: a first-party app takes passwords and must be confidential, not public", ErrInvalid)
	}
	for _, u := range spec.RedirectURIs {
		if err := ValidateRedirectURI(u); err != nil {
			return nil, "", err
		}
	}
	if len(spec.Scopes) == 0 {
		return nil, "", fmt.Errorf("%w: the app needs at least one scope", ErrInvalid)
	}
	for _, sc := range spec.Scopes {
		if !slices.Contains(catalogue, sc) {
			return nil, "", fmt.Errorf("%w: unknown scope %q (not in the catalogue)", ErrInvalid, sc)
		}
	}
	secret, digest := "", ""
	if !spec.Public {
		secret = NewSecret()
		digest = Digest(secret)
	}
	app := &App{
		ClientID:     NewID(),
		Name:         name,
		SecretDigest: digest,
		Public:       spec.Public,
		RequirePKCE:  spec.RequirePKCE || spec.Public,
		FirstParty:   spec.FirstParty,
		RedirectURIs: uniq(spec.RedirectURIs),
		Scopes:       uniq(spec.Scopes),
		CreatedAt:    s.now().UTC().Truncate(time.Millisecond),
	}
	uris, err := json.Marshal(app.RedirectURIs)
	if err != nil {
		return nil, "", fmt.Errorf("encode redirect URIs: %w", err)
	}
	// The record and the index are in different slots on a Redis Cluster,
	// so not one MULTI: ListApps skips index entries without a record, and
	// a failure undoes what it can.
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, appKey(app.ClientID),
			"client_id", app.ClientID,
			"name", app.Name,
			"secret", app.SecretDigest,
			"redirect_uris", string(uris),
			"scopes", strings.Join(app.Scopes, " "),
			"created_at", ms(app.CreatedAt),
			"disabled", "0",
			"public", boolField(app.Public),
			"require_pkce", boolField(app.RequirePKCE),
			"first_party", boolField(app.FirstParty),
		)
		p.ZAdd(ctx, appsIndexKey, redis.Z{Score: float64(ms(app.CreatedAt)), Member: app.ClientID})
		return nil
	})
	if err != nil {
		undo := context.WithoutCancel(ctx)
		_ = s.rdb.ZRem(undo, appsIndexKey, app.ClientID).Err()
		_ = s.rdb.Del(undo, appKey(app.ClientID)).Err()
		return nil, "", fmt.Errorf("create app: %w", err)
	}
	return app, secret, nil
}

// GetApp returns the app with this client id, or ErrNotFound.
func (s *Store) GetApp(ctx context.Context, clientID string) (*App, error) {
	if clientID == "" {
		return nil, ErrNotFound
	}
	m, err := s.rdb.HGetAll(ctx, appKey(clientID)).Result()
	if err != nil {
		return nil, fmt.Errorf("get app: %w", err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return decodeApp(m)
}

// ListApps returns every app, oldest first.
func (s *Store) ListApps(ctx context.Context) ([]*App, error) {
	ids, err := s.rdb.ZRange(ctx, appsIndexKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	apps := make([]*App, 0, len(ids))
	for _, id := range ids {
		a, err := s.GetApp(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		apps = append(apps, a)
	}
	return apps, nil
}

func decodeApp(m map[string]string) (*App, error) {
	a := &App{
		ClientID:     m["client_id"],
		Name:         m["name"],
		SecretDigest: m["secret"],
		Scopes:       strings.Fields(m["scopes"]),
		Disabled:     m["disabled"] == "1",
		Public:       m["public"] == "1",
		RequirePKCE:  m["require_pkce"] == "1",
		FirstParty:   m["first_party"] == "1",
	}
	if err := json.Unmarshal([]byte(m["redirect_uris"]), &a.RedirectURIs); err != nil {
		return nil, fmt.Errorf("decode app %s redirect URIs: %w", a.ClientID, err)
	}
	created, _ := strconv.ParseInt(m["created_at"], 10, 64)
	a.CreatedAt = fromMS(created)
	return a, nil
}

func uniq(in []string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// SetAppDisabled disables or enables an app. A disabled app can start no
// flow, exchange or refresh nothing, and its tokens are refused while it
// stays disabled. Every instance's app cache hears of the change over
// pub/sub.
func (s *Store) SetAppDisabled(ctx context.Context, clientID string, disabled bool, by Actor) error {
	v := boolField(disabled)
	n, err := s.rdb.Exists(ctx, appKey(clientID)).Result()
	if err != nil {
		return fmt.Errorf("set app disabled: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	if err := s.rdb.HSet(ctx, appKey(clientID), "disabled", v).Err(); err != nil {
		return fmt.Errorf("set app disabled: %w", err)
	}
	if err := s.appChanged(ctx, clientID); err != nil {
		return err
	}
	detail := "enabled"
	if disabled {
		detail = "disabled"
	}
	s.audit(ctx, Event{Type: EventApp, ClientID: clientID, Actor: by, Detail: detail})
	return nil
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
