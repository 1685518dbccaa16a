package server

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/enlace-oauth/enlace/consent"
	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// passwordGrant signs a merchant in for one of the platform's own apps
// (RFC 6749 §4.3, as the Multinexo API serves it). RFC 9700 §2.4 forbids
// the grant for anyone else, so only apps registered as first-party may
// use it: no third-party app ever sees a merchant's password. The login
// limits of the consent pages apply with the same counters (per account
// and per client address, counted before the password is checked), and a
// wrong email and a wrong password are the same answer. Each sign-in is a
// new connection whose access tokens live tokens.password_access_lifetime.
func (s *Server) passwordGrant(ctx context.Context, clientIP string, app *store.App, tr *tokenRequest, jkt string) (*store.Issued, *store.Merchant, error) {
	if !app.FirstParty {
		return nil, nil, apierror.New(apierror.UnauthorizedClient,
			"the password grant is only for the platform's own apps; use the authorization code flow")
	}
	if tr.Username == "" || tr.Password == "" {
		return nil, nil, apierror.Request("username and password are required")
	}
	scopes := app.Scopes
	if tr.Scope != "" {
		scopes = parseScopes(tr.Scope)
		if sc := app.Unregistered(scopes); sc != "" {
			return nil, nil, apierror.New(apierror.InvalidScope, "scope "+sc+" is not registered for this app")
		}
	}
	if len(scopes) == 0 {
		return nil, nil, apierror.New(apierror.InvalidScope, "no scope requested")
	}
	if slices.Contains(scopes, scopeOpenID) && s.keys == nil {
		return nil, nil, oidcOff()
	}
	limits := s.loginLimits()
	wait, err := s.store.LoginAttempt(ctx, "merchant", tr.Username, clientIP, limits)
	if err != nil {
		return nil, nil, err
	}
	if wait > 0 {
		s.metrics.loginFailures.Inc()
		s.log.WarnContext(ctx, "sign-in limited", "client_id", app.ClientID, "retry_after_s", int(wait.Seconds()),
			"account", consent.AccountRef(tr.Username), "address", clientIP)
		e := apierror.New(apierror.InvalidGrant, "too many failed sign-ins; wait before trying again")
		e.Status, e.RetryAfter = http.StatusTooManyRequests, wait
		return nil, nil, e
	}
	m, err := s.store.AuthenticateMerchant(ctx, tr.Username, tr.Password)
	if errors.Is(err, store.ErrBadCredentials) {
		s.metrics.loginFailures.Inc()
		s.log.InfoContext(ctx, "sign-in refused", "client_id", app.ClientID, "account", consent.AccountRef(tr.Username),
			"address", clientIP)
		return nil, nil, apierror.New(apierror.InvalidGrant, "wrong username or password")
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.store.LoginSucceeded(ctx, "merchant", tr.Username, clientIP, limits); err != nil {
		s.log.ErrorContext(ctx, "login limit", "err", err)
	}
	// The generation as Redis has it (see Approve): a sign-in just after an
	// app-wide revocation must not be born revoked.
	gen, err := s.store.AppGeneration(ctx, app.ClientID)
	if err != nil {
		return nil, nil, err
	}
	iss, err := s.store.SignIn(ctx, store.SignInGrant{ClientID: app.ClientID, MerchantID: m.ID,
		Scopes: slices.Clone(scopes), AccessLifetime: s.cfg.Tokens.PasswordAccess, AppGeneration: gen, JKT: jkt})
	if err != nil {
		return nil, nil, err
	}
	return iss, m, nil
}

// loginLimits are the configured login limits, shared by the consent
// pages and the password grant.
func (s *Server) loginLimits() store.LoginLimits {
	return store.LoginLimits{PerAccount: s.cfg.LoginLimits.PerAccount,
		PerAddress: s.cfg.LoginLimits.PerAddress, Period: s.cfg.LoginLimits.Period}
}
