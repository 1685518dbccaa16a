// Package safefetch fetches a URL that someone outside enlace gave it — an
// app's logo_uri, its jwks_uri, its webhook endpoint — without letting that URL reach into the network enlace runs in
// (server-side request forgery). The rules, all on by default:
//
//   - https only, an absolute URL with a host and no credentials;
//   - the address actually dialled is checked, in the net.Dialer's Control
//     function, after resolution and before the connection is made: no
//     loopback, private (RFC 1918, RFC 4193), link-local, unspecified,
//     multicast, broadcast, shared (RFC 6598), reserved or documentation
//     address, and no IPv6 form that embeds one (IPv4-mapped, NAT64,
//     6to4). A host name that resolves to a good address for the check and
//     a bad one for the connection (DNS rebinding) cannot get past it,
//     since there is only one resolution: the dial's;
//   - no proxy from the environment (the proxy's address would be the one
//     checked), no redirects (a redirect is an error: each hop would be a
//     new URL to judge), one 200 answer;
//   - a deadline (5 s by default) over the whole exchange, and a bound on
//     the body (read at most MaxBytes+1 bytes) and on the header.
//
// Tests that need a server on loopback (httptest.NewTLSServer) allow its one
// address with Options.Allow and trust its certificate with Options.RootCAs;
// production leaves both unset.
package safefetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// Defaults of Options.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultMaxBytes = 256 << 10
)

// ErrRefused is a URL, or an address it resolves to, that the rules do not
// fetch from. Nothing was sent.
var ErrRefused = errors.New("safefetch: refused")

// ErrTooLarge is an answer whose body is longer than Options.MaxBytes.
var ErrTooLarge = errors.New("safefetch: the answer is too large")

// Options tune a Fetcher; the zero value is the production setting.
type Options struct {
	// Timeout bounds a whole fetch: dialling, TLS, the answer and its
	// body. 0 is DefaultTimeout.
	Timeout time.Duration
	// MaxBytes bounds the body. 0 is DefaultMaxBytes.
	MaxBytes int64
	// Allow, for tests only, lets through one address the rules refuse
	// (the loopback address of an httptest.NewTLSServer). Production
	// leaves it nil.
	Allow func(netip.AddrPort) bool
	// RootCAs, for tests only, replaces the system's roots (the test
	// server's certificate). nil is the system's.
	RootCAs *x509.CertPool
	// AllowPrivate lifts the address rules and allows http, for
	// development against a receiver on the same machine or network
	// (webhooks.allow_private_targets). Production leaves it false.
	AllowPrivate bool
	// KeepAlives keeps connections open between requests to one host (the
	// deliverer posts to the same endpoints again and again).
	KeepAlives bool
}

// Fetcher fetches URLs under the rules. It is safe for concurrent use.
type Fetcher struct {
	client    *http.Client
	maxBytes  int64
	allow     func(netip.AddrPort) bool
	allowHTTP bool
}

// New returns a Fetcher with opts.
func New(opts Options) *Fetcher {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	allow := opts.Allow
	if opts.AllowPrivate {
		allow = func(netip.AddrPort) bool { return true }
	}
	dialer := &net.Dialer{
		Timeout: opts.Timeout,
		// Control sees the address about to be connected to, after the
		// name was resolved: the one place a check cannot be raced.
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: cannot read the address %q", ErrRefused, address)
			}
			if allow != nil && allow(ap) {
				return nil
			}
			if !Public(ap.Addr()) {
				return fmt.Errorf("%w: %s is not a public address", ErrRefused, ap.Addr())
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy:                  nil, // never a proxy: its address would be the one checked
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    opts.Timeout,
		ResponseHeaderTimeout:  opts.Timeout,
		MaxResponseHeaderBytes: 16 << 10,
		DisableKeepAlives:      !opts.KeepAlives, // fetches are rare, and each to a stranger
		ForceAttemptHTTP2:      true,
	}
	return &Fetcher{maxBytes: opts.MaxBytes, allow: allow, allowHTTP: opts.AllowPrivate, client: &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return fmt.Errorf("%w: the URL redirects, and redirects are not followed", ErrRefused)
		},
	}}
}

// CheckURL applies the rules that need no network: an absolute https URL
// with a host, without credentials, whose host, when it is an IP literal,
// is public. Get applies them too; a caller validating input (a
// registration's logo_uri) can answer with them before any fetch.
func CheckURL(raw string) (*url.URL, error) {
	return checkURL(raw, nil, false)
}

func checkURL(raw string, allow func(netip.AddrPort) bool, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || !(u.Scheme == "https" || allowHTTP && u.Scheme == "http") || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%w: %q is not an absolute https URL without credentials", ErrRefused, raw)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && !Public(a) {
		port, _ := strconv.ParseUint(u.Port(), 10, 16)
		if u.Port() == "" {
			port = 443
		}
		if allow == nil || !allow(netip.AddrPortFrom(a, uint16(port))) {
			return nil, fmt.Errorf("%w: %s is not a public address", ErrRefused, a)
		}
	}
	return u, nil
}

// Get fetches raw and returns its body (at most MaxBytes) and its
// Content-Type. An error wraps ErrRefused when the rules refused the URL
// or its address, ErrTooLarge for a long body; any other is the network's
// or the far server's (a status other than 200).
func (f *Fetcher) Get(ctx context.Context, raw string) ([]byte, string, error) {
	u, err := checkURL(raw, f.allow, f.allowHTTP)
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("safefetch: %w", err)
	}
	req.Header.Set("User-Agent", "enlace")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("safefetch: get %s: %w", u.Redacted(), err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("safefetch: get %s: status %d", u.Redacted(), res.StatusCode)
	}
	if res.ContentLength > f.maxBytes {
		return nil, "", ErrTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, f.maxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("safefetch: read %s: %w", u.Redacted(), err)
	}
	if int64(len(b)) > f.maxBytes {
		return nil, "", ErrTooLarge
	}
	return b, res.Header.Get("Content-Type"), nil
}

// nonPublic are the ranges Public refuses beyond what netip.Addr's own
// Post sends body to raw (under the same rules as Get: the URL's own
// address, then every address dialled, redirects not followed) with
// header, and returns the status answered; the answer's body is read (up
// to MaxBytes) and dropped, so the connection can be used again.
func (f *Fetcher) Post(ctx context.Context, raw string, header http.Header, body []byte) (int, error) {
	u, err := checkURL(raw, f.allow, f.allowHTTP)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("safefetch: %w", err)
	}
	req.Header = header.Clone()
	res, err := f.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("safefetch: post %s: %w", u.Redacted(), err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, f.maxBytes))
	return res.StatusCode, nil
}

// CheckTarget refuses a URL that is not https or that names or resolves
// to an address that is not public (AllowPrivate lifts both): the check
// at registration, before the one at every dial. resolver nil is the
// system's.
func CheckTarget(ctx context.Context, raw string, opts Options, resolver *net.Resolver) error {
	allow := opts.Allow
	if opts.AllowPrivate {
		return nil
	}
	u, err := checkURL(raw, allow, false)
	if err != nil {
		return err
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return nil // an address, checked by checkURL
	}
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	addrs, err := resolver.LookupNetIP(ctx, "ip", u.Hostname())
	if err != nil {
		return fmt.Errorf("%w: %s does not resolve", ErrRefused, u.Hostname())
	}
	port, _ := strconv.ParseUint(u.Port(), 10, 16)
	if u.Port() == "" {
		port = 443
	}
	for _, a := range addrs {
		if !Public(a) && (allow == nil || !allow(netip.AddrPortFrom(a.Unmap(), uint16(port)))) {
			return fmt.Errorf("%w: %s resolves to %s, which is not a public address", ErrRefused, u.Hostname(), a)
		}
	}
	return nil
}

// predicates name.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space, carrier NAT (RFC 6598)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and the broadcast address
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: an IPv4 address behind a gateway
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local NAT64
	netip.MustParsePrefix("2002::/16"),       // 6to4: an IPv4 address inside
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated, still routed somewhere)
	netip.MustParsePrefix("100::/64"),        // discard
}

// Public reports whether a is an address on the public internet: not
// loopback, private, link-local, unspecified, multicast or any range of
// nonPublic. An IPv4-mapped IPv6 address is judged as its IPv4 address.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
