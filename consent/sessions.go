package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/enlace-oauth/enlace/store"
)

// SessionBackend is the part of the store that keeps sessions server-side.
type SessionBackend interface {
	SaveSession(ctx context.Context, id string, data []byte, ttl time.Duration) error
	LoadSession(ctx context.Context, id string) ([]byte, error)
	DeleteSession(ctx context.Context, id string) error
}

// SessionStore is a gorilla/sessions store that keeps session values in
// Redis. The cookie carries only the session id, signed with the session
// secret; Redis keeps the values under the id's digest.
type SessionStore struct {
	backend SessionBackend
	codec   *securecookie.SecureCookie
	options sessions.Options
}

// NewSessionStore returns a session store. secret signs cookies; lifetime is
// both the cookie's Max-Age and the server-side TTL; secure marks cookies
// Secure (when the issuer is https).
func NewSessionStore(backend SessionBackend, secret []byte, lifetime time.Duration, secure bool) *SessionStore {
	codec := securecookie.New(secret, nil)
	codec.MaxAge(int(lifetime.Seconds()))
	return &SessionStore{
		backend: backend,
		codec:   codec,
		options: sessions.Options{
			Path:     "/",
			MaxAge:   int(lifetime.Seconds()),
			HttpOnly: true,
			Secure:   secure,
			SameSite: http.SameSiteLaxMode,
		},
	}
}

// Get returns the request's session, cached for the request.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie, or starts an empty
// one when there is no valid cookie or the server-side record is gone.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := s.options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := s.codec.Decode(name, c.Value, &id); err != nil {
		// A forged or expired cookie is just no session.
		return sess, nil
	}
	data, err := s.backend.LoadSession(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	var vals map[string]string
	if err := json.Unmarshal(data, &vals); err != nil {
		return sess, nil
	}
	for k, v := range vals {
		sess.Values[k] = v
	}
	sess.ID = id
	sess.IsNew = false
	return sess, nil
}

// Save writes the session's values to Redis and sets the cookie; a session
// with MaxAge < 0 is deleted on both sides. Only string keys and values are
// kept.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.backend.DeleteSession(r.Context(), sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	if sess.ID == "" {
		sess.ID = store.NewSecret()
	}
	vals := make(map[string]string, len(sess.Values))
	for k, v := range sess.Values {
		ks, ok1 := k.(string)
		vs, ok2 := v.(string)
		if ok1 && ok2 {
			vals[ks] = vs
		}
	}
	data, err := json.Marshal(vals)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if err := s.backend.SaveSession(r.Context(), sess.ID, data, time.Duration(sess.Options.MaxAge)*time.Second); err != nil {
		return err
	}
	encoded, err := s.codec.Encode(sess.Name(), sess.ID)
	if err != nil {
		return fmt.Errorf("sign session cookie: %w", err)
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), encoded, sess.Options))
	return nil
}

// csrfCookieName is the cookie of the signed double-submit CSRF token of
// visitors without a session. On https it has the __Host- prefix, so no
// other host (a sibling subdomain) can set it for this one.
func (s *SessionStore) csrfCookieName() string {
	if s.options.Secure {
		return "__Host-enlace_csrf"
	}
	return "enlace_csrf"
}

// CSRFCookie returns the request's signed CSRF token, or "" when it
// carries none (or a forged, or expired one).
func (s *SessionStore) CSRFCookie(r *http.Request) string {
	c, err := r.Cookie(s.csrfCookieName())
	if err != nil {
		return ""
	}
	var tok string
	if err := s.codec.Decode(s.csrfCookieName(), c.Value, &tok); err != nil {
		return ""
	}
	return tok
}

// SetCSRFCookie sets tok as the signed CSRF cookie: a form of a page with
// no session (login) is checked against it, and nothing is written to
// Redis until a form is posted and accepted.
func (s *SessionStore) SetCSRFCookie(w http.ResponseWriter, tok string) error {
	encoded, err := s.codec.Encode(s.csrfCookieName(), tok)
	if err != nil {
		return fmt.Errorf("sign CSRF cookie: %w", err)
	}
	opts := s.options
	http.SetCookie(w, sessions.NewCookie(s.csrfCookieName(), encoded, &opts))
	return nil
}

// Renew gives the session a new id, deleting the old server-side record, so
// that an id planted before login is worthless after it (session fixation).
func (s *SessionStore) Renew(r *http.Request, sess *sessions.Session) error {
	if sess.ID != "" {
		if err := s.backend.DeleteSession(r.Context(), sess.ID); err != nil {
			return err
		}
	}
	sess.ID = ""
	return nil
}
