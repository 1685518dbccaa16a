package main

// Scaling out (issue 9), against the real binary: two enlace processes on
// one Redis Cluster behave as one server, and enlace rides out the
// failover of a cluster primary.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/store"
	"github.com/enlace-oauth/enlace/store/redistest"
)

// scaleEnv points enlace (and its admin commands) at a cluster.
func scaleEnv(c *redistest.Cluster) []string {
	return []string{"ENLACE_REDIS_MODE=cluster", "ENLACE_REDIS_ADDRS=" + strings.Join(c.Addrs, ",")}
}

// TestScaleOutTwoInstances: a merchant logs in on A and approves on B; the
// app exchanges on A and refreshes on B; a revocation on B is seen on A at
// once; disabling the app on A stops it on B within a second; login
// limits are shared.
func TestScaleOutTwoInstances(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	cluster := redistest.StartCluster(t, 3, 0)
	environ := scaleEnv(cluster)
	const email = "ana@tienda.cl"
	app := opsSetupEnv(t, environ, email)
	extra := append(environ, "ENLACE_LOGIN_LIMITS_PER_ACCOUNT=3")
	a := opsStart(t, bin, "", extra...)
	b := opsStart(t, bin, "", extra...)
	c := &http.Client{Timeout: 10 * time.Second}

	// Log in on A.
	br := opsNewBrowser(a.url, email, nil)
	authorize := "/apps/authorize?" + url.Values{"response_type": {"code"}, "client_id": {app.ClientID},
		"redirect_uri": {opsRedirect}, "scope": {"read:products read:checkouts"}, "state": {"s"}}.Encode()
	p := opsStatus(t, "authorize on A", http.StatusFound)(br.get(authorize))
	loginURL := p.header.Get("Location")
	lp := opsStatus(t, "login page on A", http.StatusOK)(br.get(loginURL))
	csrf, err := opsCSRFOf(lp)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := url.Parse(loginURL)
	p = opsStatus(t, "login on A", http.StatusSeeOther)(br.post("/login", url.Values{"csrf_token": {csrf},
		"email": {email}, "password": {opsPassword(email)}, "next": {next.Query().Get("next")}}))

	// Approve on B: the session is B's too.
	br.base = b.url
	consent := opsStatus(t, "consent page on B", http.StatusOK)(br.get(p.header.Get("Location")))
	csrf, err = opsCSRFOf(consent)
	if err != nil {
		t.Fatal(err)
	}
	p = opsStatus(t, "approve on B", http.StatusSeeOther)(br.post(authorize, url.Values{"csrf_token": {csrf},
		"granted": {"read:products", "read:checkouts"}, "decision": {"approve"}}))
	back, _ := url.Parse(p.header.Get("Location"))
	code := back.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", back)
	}

	// Exchange on A, refresh on B.
	first, err := opsExchange(c, a.url, app, code)
	if err != nil {
		t.Fatalf("exchange on A: %v", err)
	}
	second, err := opsRefresh(c, b.url, app, first.refresh)
	if err != nil {
		t.Fatalf("refresh on B: %v", err)
	}
	if r, err := opsInfo(c, a.url, first.access); err != nil || r.status != http.StatusUnauthorized {
		t.Fatalf("A still takes the access token B replaced: %v %v", r, err)
	}
	opsOK(t, "A takes B's new token")(opsInfo(c, a.url, second.access))
	// A replay of the used code on B is refused and ends the connection
	// on A too.
	if _, r, _ := opsToken(c, b.url, app, url.Values{"grant_type": {"authorization_code"}, "code": {code}}); r == nil || r.status != http.StatusBadRequest {
		t.Fatalf("a replayed code on B: %v", r)
	}
	if r, err := opsInfo(c, a.url, second.access); err != nil || r.status != http.StatusUnauthorized {
		t.Fatalf("A still takes the token of a connection B revoked for a code replay: %v %v", r, err)
	}

	// connect approves on one instance and exchanges on another.
	connect := func(approveOn, exchangeOn *opsProc) opsPair {
		t.Helper()
		code, err := opsNewBrowser(approveOn.url, email, nil).authorize(app, "read:products")
		if err != nil {
			t.Fatal(err)
		}
		pair, err := opsExchange(c, exchangeOn.url, app, code)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}

	// A revocation on B is seen on A at once.
	pair := connect(b, a)
	opsOK(t, "info on A")(opsInfo(c, a.url, pair.access))
	opsOK(t, "revoke on B")(opsForm(c, b.url, "/oauth/revoke", app, url.Values{"token": {pair.refresh}}))
	if r, err := opsInfo(c, a.url, pair.access); err != nil || r.status != http.StatusUnauthorized {
		t.Fatalf("A still takes a token revoked on B: %v %v", r, err)
	}

	// Disabling the app on A stops it on B within a second. B has the
	// app in its cache from the calls above.
	live := connect(a, b)
	opsOK(t, "info on B")(opsInfo(c, b.url, live.access))
	// B serves the app from its cache (so the disabling below must reach
	// it over pub/sub): more calls read no record from Redis.
	before := clusterCalls(t, cluster, "hgetall")
	for range 5 {
		opsOK(t, "info on B")(opsInfo(c, b.url, live.access))
	}
	if n := clusterCalls(t, cluster, "hgetall") - before; n != 0 {
		t.Fatalf("B read %d records for 5 calls: its cache is not serving", n)
	}
	r := runCmd(t, environ, "", "admin", "key", "create", "--name", "scale test", "--json")
	var key struct {
		Key string `json:"key"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &key) != nil || key.Key == "" {
		t.Fatalf("admin key create: %d %s %s", r.code, r.stdout, r.stderr)
	}
	req, _ := http.NewRequest(http.MethodPost, a.url+"/admin/api/apps/"+app.ClientID+"/disable", nil)
	req.Header.Set("Authorization", "Bearer "+key.Key)
	opsOK(t, "disable on A")(opsDo(c, req))
	disabled := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := opsInfo(c, b.url, live.access)
		if err == nil && r.status == http.StatusUnauthorized {
			break
		}
		if time.Since(disabled) > time.Second {
			t.Fatalf("B still takes the disabled app's token a second later: %v %v", r, err)
		}
		<-tick.C
	}
	t.Logf("B refused the disabled app's token %v after A disabled it", time.Since(disabled).Round(time.Millisecond))

	// Login limits are shared: two failures on A and one on B use up the
	// three allowed; the right password is then refused on B.
	for i, base := range []string{a.url, a.url, b.url} {
		lb := opsNewBrowser(base, email, nil)
		lp, err := lb.get("/login")
		if err != nil {
			t.Fatal(err)
		}
		csrf, _ := opsCSRFOf(lp)
		if r, err := lb.post("/login", url.Values{"csrf_token": {csrf}, "email": {email}, "password": {"wrong"}}); err != nil || r.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %v %v", i, r, err)
		}
	}
	lb := opsNewBrowser(b.url, email, nil)
	lp, err = lb.get("/login")
	if err != nil {
		t.Fatal(err)
	}
	csrf, _ = opsCSRFOf(lp)
	if r, err := lb.post("/login", url.Values{"csrf_token": {csrf}, "email": {email}, "password": {opsPassword(email)}}); err != nil || r.status != http.StatusTooManyRequests {
		t.Fatalf("B after three failures across A and B: %v %v", r, err)
	}
	a.stop(t, 15*time.Second)
	b.stop(t, 15*time.Second)
}

// opsStatus returns a check that an answer has the given status.
func opsStatus(t *testing.T, what string, status int) func(*opsAnswer, error) *opsAnswer {
	return func(a *opsAnswer, err error) *opsAnswer {
		t.Helper()
		return opsWant(t, what, a, err, status)
	}
}

// TestClusterFailover kills the primary that holds a connection under a
// load of token checks: once its replica has taken over, enlace serves
// that connection again without a restart, and no connection or live
// token written before the kill (and replicated, as WAIT confirms) is
// lost.
func TestClusterFailover(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	cluster := redistest.StartCluster(t, 3, 1)
	environ := scaleEnv(cluster)
	const email = "ana@tienda.cl"
	app := opsSetupEnv(t, environ, email)
	p := opsStart(t, bin, "", environ...)
	c := &http.Client{Timeout: 10 * time.Second}

	var pairs []opsPair
	for range 12 {
		code, err := opsNewBrowser(p.url, email, nil).authorize(app, "read:products")
		if err != nil {
			t.Fatal(err)
		}
		pair, err := opsExchange(c, p.url, app, code)
		if err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, pair)
	}
	// Asynchronous replication may lose the last writes before a failover
	// (as Redis documents); make sure these reached the replicas.
	ctx := context.Background()
	cc := cluster.Client(t)
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if got, err := n.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || got < 1 {
			return fmt.Errorf("WAIT on %s: %d %v", n.Options().Addr, got, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	victimConn := strings.SplitN(strings.TrimPrefix(pairs[0].access, "at-"), ".", 2)[0]
	victim := cluster.Primary(store.ConnectionKey(victimConn))

	// Load: every pair's token checked over and over while the primary
	// dies and its replica takes over.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ok, unavailable, wrong atomic.Int64
	var wrongMu sync.Mutex
	var wrongSample string
	for i := range pairs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := opsInfo(c, p.url, pairs[i].access)
				switch {
				case err == nil && r.status == http.StatusOK:
					ok.Add(1)
				case err == nil && r.status == http.StatusServiceUnavailable:
					unavailable.Add(1)
				default:
					wrong.Add(1)
					wrongMu.Lock()
					wrongSample = fmt.Sprint(r, err)
					wrongMu.Unlock()
				}
			}
		})
	}
	opsPoll(t, 10*time.Second, "the load does not run", func() bool { return ok.Load() >= 50 })
	killed := time.Now()
	victim.Stop()
	opsPoll(t, 30*time.Second, "enlace does not serve the victim's connection after the failover", func() bool {
		r, err := opsInfo(c, p.url, pairs[0].access)
		return err == nil && r.status == http.StatusOK
	})
	t.Logf("served again %v after the primary was killed", time.Since(killed).Round(time.Millisecond))
	close(stop)
	wg.Wait()
	t.Logf("during the failover: %d ok, %d unavailable (503), %d other", ok.Load(), unavailable.Load(), wrong.Load())
	if wrong.Load() > 0 {
		t.Errorf("answers other than 200 or a clean 503 during the failover, e.g. %s", wrongSample)
	}
	// Nothing written before the kill is lost: every access token works,
	// every refresh token refreshes.
	for i, pair := range pairs {
		opsOK(t, fmt.Sprintf("token %d after the failover", i))(opsInfo(c, p.url, pair.access))
		if _, err := opsRefresh(c, p.url, app, pair.refresh); err != nil {
			t.Errorf("refresh %d after the failover: %v", i, err)
		}
	}
	if r, err := opsNewBrowser(p.url, email, nil).authorize(app, "read:products"); err != nil || r == "" {
		t.Errorf("a new flow after the failover: %v", err)
	}
	p.stop(t, 15*time.Second)
}

// TestSentinelFailover runs enlace on a Sentinel-managed primary: the flow
// works, and when the primary dies and the sentinel promotes its replica,
// enlace follows without a restart and the tokens written before (and
// replicated) still work.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	bin := opsBuild(t)
	st := redistest.StartSentinel(t)
	environ := []string{"ENLACE_REDIS_MODE=sentinel", "ENLACE_REDIS_MASTER_NAME=" + st.MasterName,
		"ENLACE_REDIS_ADDRS=" + st.Sentinel.Addr}
	const email = "ana@tienda.cl"
	app := opsSetupEnv(t, environ, email)
	p := opsStart(t, bin, "", environ...)
	c := &http.Client{Timeout: 10 * time.Second}
	code, err := opsNewBrowser(p.url, email, nil).authorize(app, "read:products")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := opsExchange(c, p.url, app, code)
	if err != nil {
		t.Fatal(err)
	}
	opsOK(t, "info")(opsInfo(c, p.url, pair.access))
	ctx := context.Background()
	primary := redis.NewClient(&redis.Options{Addr: st.Primary.Addr})
	defer primary.Close()
	if n, err := primary.Do(ctx, "WAIT", 1, 5000).Int(); err != nil || n < 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}

	st.Primary.Stop()
	opsPoll(t, 30*time.Second, "the sentinel did not promote the replica", func() bool {
		return st.MasterAddr() == st.Replica.Addr
	})
	opsPoll(t, 15*time.Second, "enlace does not serve after the failover", func() bool {
		r, err := opsInfo(c, p.url, pair.access)
		return err == nil && r.status == http.StatusOK
	})
	next, err := opsRefresh(c, p.url, app, pair.refresh)
	if err != nil {
		t.Fatalf("refresh after the failover: %v", err)
	}
	opsOK(t, "the new token")(opsInfo(c, p.url, next.access))
	if _, err := opsNewBrowser(p.url, email, nil).authorize(app, "read:products"); err != nil {
		t.Fatalf("a new flow after the failover: %v", err)
	}
	p.stop(t, 15*time.Second)
}

// clusterCalls is how many times the cluster's primaries have run a
// command (INFO commandstats, summed).
func clusterCalls(t *testing.T, c *redistest.Cluster, command string) int64 {
	t.Helper()
	var (
		mu    sync.Mutex
		total int64
	)
	err := c.Client(t).ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		out, err := n.Info(ctx, "commandstats").Result()
		if err != nil {
			return err
		}
		for line := range strings.Lines(out) {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":calls=")
			if !ok {
				continue
			}
			v, _ := strconv.ParseInt(rest[:strings.IndexByte(rest+",", ',')], 10, 64)
			mu.Lock()
			total += v
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}
