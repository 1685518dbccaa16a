package store_test

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// The store's hot paths: minting and digesting credentials (CPU only), and
// the scripts and lookups of the token endpoint and token checks, against a
// real redis-server started for the benchmark (so the figures include the
// loopback round trip).

// BenchmarkNewCredential mints an opaque token (256 random bits).
func BenchmarkNewCredential(b *testing.B) {
	id := store.NewID()
	b.ReportAllocs()
	for b.Loop() {
		_ = store.NewCredential(store.KindAccess, id)
	}
}

// BenchmarkIssuePair is what every exchange and refresh mints: a token
// record id, an access and a refresh token, and their digests.
func BenchmarkIssuePair(b *testing.B) {
	id := store.NewID()
	b.ReportAllocs()
	for b.Loop() {
		_ = store.NewID()
		_ = store.Digest(store.NewCredential(store.KindAccess, id))
		_ = store.Digest(store.NewCredential(store.KindRefresh, id))
	}
}

// BenchmarkParseCredential splits a token into its connection id.
func BenchmarkParseCredential(b *testing.B) {
	tok := store.NewCredential(store.KindAccess, store.NewID())
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := store.ParseCredential(store.KindAccess, tok); !ok {
			b.Fatal("not parsed")
		}
	}
}

// BenchmarkDigestEqual checks a presented secret against its digest.
func BenchmarkDigestEqual(b *testing.B) {
	secret := store.NewSecret()
	digest := store.Digest(secret)
	b.ReportAllocs()
	for b.Loop() {
		if !store.DigestEqual(secret, digest) {
			b.Fatal("no match")
		}
	}
}

// benchStore is a store on a fresh redis-server with one app and one
// merchant.
type benchStore struct {
	st       *store.Store
	rdb      *redis.Client
	clientID string
	grant    store.Grant
}

func newBenchStore(b *testing.B) *benchStore {
	b.Helper()
	rdb := redistest.Start(b).Client(b)
	st := store.New(rdb, store.Options{})
	app, _, err := st.CreateApp(context.Background(), store.AppSpec{Name: "Bench",
		RedirectURIs: []string{"https://app.example.com/cb"}, Scopes: catalogue}, catalogue)
	if err != nil {
		b.Fatal(err)
	}
	m, err := st.CreateMerchant(context.Background(), "bench@example.com", "Bench", "correct horse")
	if err != nil {
		b.Fatal(err)
	}
	return &benchStore{st: st, rdb: rdb, clientID: app.ClientID, grant: store.Grant{ClientID: app.ClientID, MerchantID: m.ID,
		RedirectURI: "https://app.example.com/cb", Scopes: catalogue}}
}

// codes prepares n unused codes.
func (s *benchStore) codes(b *testing.B, n int) []string {
	b.Helper()
	out := make([]string, n)
	for i := range out {
		_, code, err := s.st.Approve(context.Background(), s.grant)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = code
	}
	return out
}

// issued prepares n live connections and returns their first pairs.
func (s *benchStore) issued(b *testing.B, n int) []*store.Issued {
	b.Helper()
	out := make([]*store.Issued, n)
	for i, code := range s.codes(b, n) {
		iss, err := s.st.ExchangeCode(context.Background(), store.CodeExchange{Code: code, ClientID: s.clientID})
		if err != nil {
			b.Fatal(err)
		}
		out[i] = iss
	}
	return out
}

// BenchmarkApprove records a connection and its code (one pipeline).
func BenchmarkApprove(b *testing.B) {
	s := newBenchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.st.Approve(ctx, s.grant); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeCode consumes a code and issues a pair (one script).
func BenchmarkExchangeCode(b *testing.B) {
	s := newBenchStore(b)
	codes := s.codes(b, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.st.ExchangeCode(ctx, store.CodeExchange{Code: codes[i], ClientID: s.clientID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeCodeParallel is BenchmarkExchangeCode from GOMAXPROCS
// goroutines at once (-cpu sets how many).
func BenchmarkExchangeCodeParallel(b *testing.B) {
	s := newBenchStore(b)
	codes := s.codes(b, b.N)
	var next atomic.Int64
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code := codes[next.Add(1)-1]
			if _, err := s.st.ExchangeCode(ctx, store.CodeExchange{Code: code, ClientID: s.clientID}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRefresh rotates a pair (one script, with the sealed retry
// answer).
func BenchmarkRefresh(b *testing.B) {
	s := newBenchStore(b)
	iss := s.issued(b, b.N)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.st.Refresh(ctx, store.RefreshRequest{RefreshToken: iss[i].RefreshToken, ClientID: s.clientID}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupAccess checks an access token (one HMGET).
func BenchmarkLookupAccess(b *testing.B) {
	s := newBenchStore(b)
	tok := s.issued(b, 1)[0].AccessToken
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.st.LookupAccess(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeTransition is the exchange script alone, with fixed
// digests, as enlace-bench's floor runs it: what ExchangeCode costs beyond
// it is minting, hashing and the audit event.
func BenchmarkExchangeTransition(b *testing.B) {
	s := newBenchStore(b)
	codes := s.codes(b, b.N)
	ctx := context.Background()
	fixed := store.Digest(store.NewSecret())
	tx := s.st.Transitions()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		connID, _ := store.ParseCredential(store.KindCode, codes[i])
		now := time.Now()
		res, err := tx.Exchange(ctx, connID, store.ExchangeArgs{Code: store.Digest(codes[i]), ClientID: s.clientID,
			Now: store.MillisOf(now), Access: fixed, Refresh: fixed, AccessExp: store.MillisOf(now.Add(time.Hour)),
			RefreshExp: store.MillisOf(now.Add(time.Hour)), TokenID: connID})
		if err != nil || res.Outcome != store.OutcomeOK {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkRevokeConnection revokes a live connection (one script: the
// record, its index entries, its audit event and its webhook event).
func BenchmarkRevokeConnection(b *testing.B) {
	s := newBenchStore(b)
	ctx := context.Background()
	ids := make([]string, 0, b.N)
	for range b.N {
		c, _, err := s.st.Approve(ctx, s.grant)
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	by := store.ActorMerchant(s.grant.MerchantID)
	s.rdb.ConfigResetStat(ctx)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := s.st.RevokeConnection(ctx, ids[i], by); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// The script's own time in Redis, without the round trip: what a
	// change to the script costs, steadier than the wall clock.
	b.ReportMetric(scriptMicros(b, s.rdb), "redis-µs/op")
}

// scriptMicros is Redis's mean time per EVALSHA since the stats were
// reset, in µs.
func scriptMicros(b *testing.B, rdb *redis.Client) float64 {
	b.Helper()
	info := rdb.Info(context.Background(), "commandstats").Val()
	for line := range strings.SplitSeq(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_evalsha:"); ok {
			for kv := range strings.SplitSeq(rest, ",") {
				if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
					f, _ := strconv.ParseFloat(v, 64)
					return f
				}
			}
		}
	}
	b.Fatalf("no EVALSHA in %q", info)
	return 0
}
