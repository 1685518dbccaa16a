package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// A redis-server and a Redis Cluster shared by the tests of one test
// binary (ForEachBackend), so that a package's tests do not each pay for a
// cluster of their own. Each is started the first time a test needs it and
// stopped by Main once the tests have run. A test gets it flushed, and has
// it alone until the test ends: tests on a shared instance never overlap,
// even if they run in parallel.
type sharedInstance struct {
	name  string
	start func(dirs func(n int) ([]string, error)) (*sharedBackend, error)

	mu      sync.Mutex // guards backend and err
	backend *sharedBackend
	err     error // why it did not start; every later test fails with it

	busy sync.Mutex // held by the test using the instance
}

// sharedBackend is a started shared instance.
type sharedBackend struct {
	// primaries are the nodes to flush: the server, or the cluster's
	// primaries.
	primaries []string
	client    func(testing.TB) redis.UniversalClient
	stop      func()
}

var (
	sharedMu   sync.Mutex
	sharedMain bool     // Main runs the tests
	sharedDirs []string // data directories, removed by Main
)

var (
	sharedServer = &sharedInstance{name: "redis-server", start: func(dirs func(int) ([]string, error)) (*sharedBackend, error) {
		if _, err := exec.LookPath("redis-server"); err != nil {
			return nil, fmt.Errorf("redis-server is not installed (apt-get install -y redis-server): %w", err)
		}
		d, err := dirs(1)
		if err != nil {
			return nil, err
		}
		s := &Server{dir: d[0], shared: true}
		if err := s.startOnFreePort(freePort); err != nil {
			return nil, err
		}
		return &sharedBackend{primaries: []string{s.Addr}, stop: s.Stop,
			client: func(tb testing.TB) redis.UniversalClient { return newClient(tb, s.Addr) }}, nil
	}}
	sharedCluster = &sharedInstance{name: "cluster", start: func(dirs func(int) ([]string, error)) (*sharedBackend, error) {
		if _, err := exec.LookPath("redis-cli"); err != nil {
			return nil, fmt.Errorf("redis-cli is not installed (apt-get install -y redis-server): %w", err)
		}
		d, err := dirs(3)
		if err != nil {
			return nil, err
		}
		// Three primaries without replicas: nothing fails over, so the
		// nodes created as primaries stay the primaries.
		c, err := startCluster(d, 3, 0, true)
		if err != nil {
			return nil, err
		}
		return &sharedBackend{primaries: c.Addrs, stop: c.stop,
			client: func(tb testing.TB) redis.UniversalClient {
				tb.Helper()
				cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
				tb.Cleanup(func() { _ = cl.Close() })
				if err := cl.Ping(context.Background()).Err(); err != nil {
					tb.Fatalf("ping the cluster: %v", err)
				}
				return cl
			}}, nil
	}}
)

// Main runs a package's tests and then stops the instances they shared
// and removes their data. A package whose tests call ForEachBackend runs
// its tests with it:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	sharedMu.Lock()
	sharedMain = true
	sharedMu.Unlock()
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// stopShared stops the shared instances and removes their directories.
func stopShared() {
	for _, in := range []*sharedInstance{sharedServer, sharedCluster} {
		in.mu.Lock()
		if in.backend != nil {
			in.backend.stop()
			in.backend = nil
		}
		in.mu.Unlock()
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for _, d := range sharedDirs {
		_ = os.RemoveAll(d)
	}
	sharedDirs = nil
}

// sharedDir makes n data directories, which Main removes at the end.
func sharedDir(n int) ([]string, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	var out []string
	for range n {
		d, err := os.MkdirTemp("", "redistest-shared-")
		if err != nil {
			return nil, err
		}
		sharedDirs = append(sharedDirs, d)
		out = append(out, d)
	}
	return out, nil
}

// use gives tb the shared instance, started if need be, flushed, and for
// tb alone until tb ends.
func (in *sharedInstance) use(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	sharedMu.Lock()
	underMain := sharedMain
	sharedMu.Unlock()
	if !underMain {
		tb.Fatalf("redistest: the %s is shared by the package's tests and stopped by redistest.Main; "+
			"add func TestMain(m *testing.M) { redistest.Main(m) } to the package", in.name)
	}
	in.busy.Lock()
	// Registered first, so that it runs last: the test's clients are
	// closed before the next test may use the instance.
	tb.Cleanup(in.busy.Unlock)
	in.mu.Lock()
	if in.backend == nil && in.err == nil {
		in.backend, in.err = in.start(sharedDir)
		if in.err != nil {
			in.err = fmt.Errorf("start the shared %s: %w", in.name, in.err)
		}
	}
	b, err := in.backend, in.err
	in.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.flush(); err != nil {
		tb.Fatalf("flush the shared %s: %v", in.name, err)
	}
	return b.client(tb)
}

// flush gives the next test an instance as a fresh one: no keys and no
// scripts cached, on every primary.
func (b *sharedBackend) flush() error {
	ctx := context.Background()
	var errs []error
	for _, addr := range b.primaries {
		cl := redis.NewClient(&redis.Options{Addr: addr})
		_, err := cl.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Do(ctx, "FLUSHALL", "SYNC")
			p.Do(ctx, "SCRIPT", "FLUSH", "SYNC")
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", addr, err))
		}
		_ = cl.Close()
	}
	return errors.Join(errs...)
}

// ForEachBackend runs fn as three subtests: against a real redis-server, a
// Redis Cluster of three primaries and a fresh embedded Redis, so the same
// assertions hold for all. The redis-server and the cluster are shared by
// the package's tests (the package's TestMain must call Main): each
// subtest gets them empty, with no script cached, and alone for as long as
// it runs. A test that stops, restarts or stalls its Redis starts its own
// with Start or StartCluster instead.
func ForEachBackend(t *testing.T, fn func(t *testing.T, rdb redis.UniversalClient)) {
	t.Helper()
	t.Run("redis-server", func(t *testing.T) { fn(t, sharedServer.use(t)) })
	t.Run("cluster", func(t *testing.T) { fn(t, sharedCluster.use(t)) })
	t.Run("embedded", func(t *testing.T) {
		_, c := Embedded(t)
		fn(t, c)
	})
}
