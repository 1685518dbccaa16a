package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/enlace-oauth/enlace/store"
)

// The info-dpop scenario: /api/d/info with DPoP-bound access tokens, one
// key and token per worker, each request with a fresh proof (RFC 9449)
// signed before the phase starts — the load tool's own signing is not
// what is measured. Its floor is the bearer floor's lookup: the ratio is
// what a DPoP check costs over a bearer one.

// dpopWorker is one worker's bound token and its proofs, used in turn.
type dpopWorker struct {
	token  string
	proofs []string
	next   atomic.Int64
}

func (d *dpopWorker) take() (string, error) {
	i := d.next.Add(1) - 1
	if i >= int64(len(d.proofs)) {
		return "", errExhausted
	}
	return d.proofs[i], nil
}

// dpopWorkers prepares, for each worker, an ES256 key, an access token
// bound to it, and perWorker proofs of it for GET htu.
func (b *benchRun) dpopWorkers(ctx context.Context, htu string, perWorker int) ([]*dpopWorker, error) {
	n := b.opts.Concurrency
	out := make([]*dpopWorker, n)
	err := parallel(ctx, n, 8, func(i int) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		pub := jose.JSONWebKey{Key: key.Public()}
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return err
		}
		_, code, err := b.st.Approve(ctx, b.grant(i))
		if err != nil {
			return err
		}
		iss, err := b.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: b.app.ClientID,
			JKT: base64.RawURLEncoding.EncodeToString(tp)})
		if err != nil {
			return err
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
			(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(iss.AccessToken))
		ath := base64.RawURLEncoding.EncodeToString(sum[:])
		w := &dpopWorker{token: iss.AccessToken, proofs: make([]string, perWorker)}
		iat := time.Now().Unix()
		for j := range w.proofs {
			claims, _ := json.Marshal(map[string]any{"jti": store.NewSecret(), "htm": http.MethodGet, "htu": htu,
				"iat": iat, "ath": ath})
			jws, err := signer.Sign(claims)
			if err != nil {
				return err
			}
			if w.proofs[j], err = jws.CompactSerialize(); err != nil {
				return err
			}
		}
		out[i] = w
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("prepare DPoP tokens: %w", err)
	}
	return out, nil
}

// issuer reads the server's issuer from its metadata: the proofs' htu is
// under it, whatever address the load tool reaches the server by.
func (b *benchRun) issuer(ctx context.Context) (string, error) {
	a, err := b.do(ctx, &worker{base: b.opts.URLs[0], c: &http.Client{Transport: b.transport}}, nil, http.MethodGet,
		"/.well-known/oauth-authorization-server", nil, nil)
	if err != nil {
		return "", err
	}
	var m struct {
		Issuer string `json:"issuer"`
	}
	if err := json.Unmarshal(a.body, &m); err != nil || m.Issuer == "" {
		return "", fmt.Errorf("metadata: no issuer in %s", a.body)
	}
	return m.Issuer, nil
}

// dpopTargets are the info-dpop scenario's real and floor targets.
func (b *benchRun) dpopTargets(ctx context.Context, sz *sizes) (real, floor target, err error) {
	iss, err := b.issuer(ctx)
	if err != nil {
		return real, floor, err
	}
	// Enough proofs for the phase at a rate no 2-core machine reaches
	// with DPoP, without signing for minutes.
	perWorker := max(200, min(b.opts.Pool, 150000)/b.opts.Concurrency)
	b.logf("info-dpop: signing %d × %d proofs", b.opts.Concurrency, perWorker)
	t0 := time.Now()
	workers, err := b.dpopWorkers(ctx, iss+"/api/d/info", perWorker)
	if err != nil {
		return real, floor, err
	}
	b.logf("info-dpop: signed in %.1fs", time.Since(t0).Seconds())
	real.op = func(ctx context.Context, w *worker) error {
		d := workers[w.i%len(workers)]
		proof, err := d.take()
		if err != nil {
			return err
		}
		a, err := b.do(ctx, w, nil, http.MethodGet, "/api/d/info", nil, func(h http.Header) {
			h.Set("Authorization", "DPoP "+d.token)
			h.Set("DPoP", proof)
		})
		if err != nil {
			return err
		}
		if err := a.expect(http.StatusOK, "info-dpop"); err != nil {
			return err
		}
		sz.add(0, a)
		return nil
	}
	floorURL := ""
	floor.once = func() { floorURL = "/_floor/bearer?" + sz.query(0) }
	floor.op = func(ctx context.Context, w *worker) error {
		a, err := b.do(ctx, w, nil, http.MethodGet, floorURL, nil, bearer(workers[w.i%len(workers)].token))
		if err != nil {
			return err
		}
		if err := a.expect(http.StatusOK, "info-dpop floor"); err != nil {
			return err
		}
		sz.add(0, a)
		return nil
	}
	return real, floor, nil
}
