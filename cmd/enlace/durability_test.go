package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// opsConnections approves n connections of app for one new merchant
// through the store itself, as the consent page would, and returns their
// codes.
func opsConnections(t *testing.T, st *store.Store, app opsApp, n int, gen int64) []string {
	t.Helper()
	ctx := context.Background()
	m, err := st.CreateMerchant(ctx, store.NewID()+"@tienda.cl", "Tienda", "pw of a merchant 7c1f")
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]string, n)
	for i := range codes {
		_, code, err := st.Approve(ctx, store.Grant{ClientID: app.ClientID, MerchantID: m.ID, RedirectURI: opsRedirect,
			Scopes: []string{"read:products"}, AppGeneration: gen})
		if err != nil {
			t.Fatal(err)
		}
		codes[i] = code
	}
	return codes
}

// TestOpsKillLosesNoAuditEvent: enlace is killed with SIGKILL in the middle
// of a mixed load (exchanges, refreshes, token checks) and started again;
// every exchange and refresh that got an answer has its audit event, since
// each event is written by the same script as the change it records.
func TestOpsKillLosesNoAuditEvent(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	rs := redistest.Start(t)
	app := opsSetup(t, rs.Addr)
	st := store.New(rs.Client(t), store.Options{})
	codes := opsConnections(t, st, app, 600, 0)
	p := opsStart(t, bin, rs.Addr)

	// answered[connection id] counts the exchanges and refreshes that got
	// a 200 with tokens.
	type counts struct{ exchanges, refreshes int }
	var mu sync.Mutex
	answered := map[string]*counts{}
	record := func(tok string, exchange bool) {
		id, ok := store.ParseCredential(store.KindAccess, tok)
		if !ok {
			t.Errorf("an answered access token %q does not parse", tok[:min(8, len(tok))])
			return
		}
		mu.Lock()
		defer mu.Unlock()
		c := answered[id]
		if c == nil {
			c = &counts{}
			answered[id] = c
		}
		if exchange {
			c.exchanges++
		} else {
			c.refreshes++
		}
	}
	work := make(chan string, len(codes))
	for _, c := range codes {
		work <- c
	}
	close(work)
	var ops atomic.Int64
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for code := range work {
				pair, err := opsExchange(client, p.url, app, code)
				if err != nil {
					return // the server is gone
				}
				record(pair.access, true)
				ops.Add(1)
				for range 2 {
					if a, err := opsInfo(client, p.url, pair.access); err != nil || a.status != http.StatusOK {
						return
					}
					if pair, err = opsRefresh(client, p.url, app, pair.refresh); err != nil {
						return
					}
					record(pair.access, false)
					ops.Add(1)
				}
			}
		})
	}
	opsPoll(t, 30*time.Second, "300 answered token requests", func() bool { return ops.Load() >= 300 })
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-p.exited
	wg.Wait()
	if ops.Load() >= int64(3*len(codes)) {
		t.Fatal("the load ended before the kill; nothing was in flight")
	}

	q := opsStart(t, bin, rs.Addr)
	opsPoll(t, 10*time.Second, "the restarted enlace is ready", q.ready)
	ctx := context.Background()
	mu.Lock()
	defer mu.Unlock()
	for id, c := range answered {
		events, _, err := st.ListAudit(ctx, store.AuditFilter{ConnectionID: id}, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		got := counts{}
		for _, e := range events {
			switch e.Type {
			case store.EventExchange:
				got.exchanges++
			case store.EventRefresh:
				got.refreshes++
			}
		}
		if got.exchanges < c.exchanges || got.refreshes < c.refreshes {
			t.Errorf("connection %s: %d exchanges and %d refreshes answered, %d and %d recorded",
				id, c.exchanges, c.refreshes, got.exchanges, got.refreshes)
		}
	}
	t.Logf("%d connections, %d answered token requests before SIGKILL; every one has its event", len(answered), ops.Load())
}

// TestOpsAppRevocationCleanupSurvivesKill: two instances run; revoking all
// of an app's connections cuts them off on both at once, while a
// connection made afterwards works; the clean-up runs on the one instance
// that holds the lease, and when that instance is killed the other takes
// over and finishes it.
func TestOpsAppRevocationCleanupSurvivesKill(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	rs := redistest.Start(t)
	app := opsSetup(t, rs.Addr)
	st := store.New(rs.Client(t), store.Options{})
	ctx := context.Background()
	const n = 2000
	codes := opsConnections(t, st, app, n, 0)
	env := []string{"ENLACE_MAINTENANCE_LEASE=1s", "ENLACE_MAINTENANCE_INTERVAL=20ms", "ENLACE_MAINTENANCE_BATCH=16"}
	a, b := opsStart(t, bin, rs.Addr, env...), opsStart(t, bin, rs.Addr, env...)
	client := &http.Client{Timeout: 5 * time.Second}
	old, err := opsExchange(client, a.url, app, codes[0])
	if err != nil {
		t.Fatal(err)
	}
	taken := func(p *opsProc) bool { return strings.Contains(p.stderr.String(), `"msg":"maintenance lease taken"`) }
	opsPoll(t, 10*time.Second, "an instance takes the maintenance lease", func() bool { return taken(a) || taken(b) })
	holder, other := a, b
	if taken(b) {
		holder, other = b, a
	}
	if taken(other) {
		t.Fatal("both instances took the maintenance lease")
	}

	r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + rs.Addr}, "", "app", "revoke-connections", app.ClientID)
	if r.code != 0 || !strings.Contains(r.stdout, "is refused from now on") {
		t.Fatalf("app revoke-connections: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Every instance hears of it over pub/sub and refuses the old token.
	for _, p := range []*opsProc{a, b} {
		opsPoll(t, 2*time.Second, "the old token refused by "+p.url, func() bool {
			ans, err := opsInfo(client, p.url, old.access)
			return err == nil && ans.status == http.StatusUnauthorized
		})
		if _, err := opsRefresh(client, p.url, app, old.refresh); err == nil {
			t.Fatal("the old refresh token still refreshes")
		}
	}
	if _, err := opsExchange(client, b.url, app, codes[1]); err == nil {
		t.Fatal("an old code still exchanges")
	}
	// A connection made afterwards works on both.
	appRec, err := st.GetApp(ctx, app.ClientID)
	if err != nil || appRec.Generation != 1 {
		t.Fatalf("app after the revocation: %v %+v", err, appRec)
	}
	fresh := opsConnections(t, st, app, 1, appRec.Generation)
	pair, err := opsExchange(client, a.url, app, fresh[0])
	if err != nil {
		t.Fatalf("a connection made after the revocation: %v", err)
	}
	for _, p := range []*opsProc{a, b} {
		if ans, err := opsInfo(client, p.url, pair.access); err != nil || ans.status != http.StatusOK {
			t.Fatalf("the new connection's token on %s: %v %v", p.url, ans, err)
		}
	}

	// Kill the instance doing the clean-up part way through.
	var before *store.Revocation
	opsPoll(t, 30*time.Second, "the clean-up under way", func() bool {
		before, err = st.AppRevocation(ctx, app.ClientID)
		return err == nil && before.Revoked > 0
	})
	if before.Done {
		t.Fatalf("the clean-up finished before the kill: %+v", before)
	}
	if err := holder.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-holder.exited
	opsPoll(t, 10*time.Second, "the other instance takes the lease", func() bool { return taken(other) })
	var after *store.Revocation
	opsPoll(t, 60*time.Second, "the clean-up finished by the other instance", func() bool {
		after, err = st.AppRevocation(ctx, app.ClientID)
		return err == nil && after.Done
	})
	// At most the batch in flight at the kill was revoked without being
	// counted (the next holder found it revoked already).
	if after.Revoked < before.Revoked || after.Revoked > n || after.Revoked < n-16 {
		t.Fatalf("revoked %d (before the kill %d) of %d", after.Revoked, before.Revoked, n)
	}
	for i, code := range codes {
		id, _ := store.ParseCredential(store.KindCode, code)
		c, err := st.GetConnection(ctx, id)
		if err != nil || c.Status != store.StatusRevoked {
			t.Fatalf("connection %d after the clean-up: %v %+v", i, err, c)
		}
	}
	id, _ := store.ParseCredential(store.KindCode, fresh[0])
	if c, err := st.GetConnection(ctx, id); err != nil || c.Status != store.StatusActive {
		t.Fatalf("the new connection after the clean-up: %v %+v", err, c)
	}
	if r := runCmd(t, []string{"ENLACE_REDIS_ADDR=" + rs.Addr}, "", "app", "revocation", app.ClientID, "--json"); r.code != 0 ||
		!strings.Contains(r.stdout, `"state": "done"`) || !strings.Contains(r.stdout, fmt.Sprintf(`"revoked": %d`, after.Revoked)) {
		t.Fatalf("app revocation: %d %s %s", r.code, r.stdout, r.stderr)
	}
}
