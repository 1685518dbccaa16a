package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of redis-server processes owned by one test.
type Cluster struct {
	// Nodes are the servers, primaries first as created (the cluster may
	// promote replicas later).
	Nodes []*Server
	// Addrs are the nodes' addresses, the seeds for a cluster client.
	Addrs []string
	tb    testing.TB
}

// StartCluster starts a Redis Cluster on loopback: primaries nodes, each
// with replicas replicas, created with redis-cli --cluster create, and
// returns once every node reports the cluster ok. The nodes are stopped
// when the test ends. extra are additional redis-server arguments for
// every node.
func StartCluster(tb testing.TB, primaries, replicas int, extra ...string) *Cluster {
	tb.Helper()
	if _, err := exec.LookPath("redis-cli"); err != nil {
		tb.Fatalf("redis-cli is not installed (apt-get install -y redis-server): %v", err)
	}
	// The directories are made first, so that they are removed after the
	// nodes have stopped.
	var dirs []string
	for range primaries * (1 + replicas) {
		dirs = append(dirs, tb.TempDir())
	}
	c, err := startCluster(dirs, primaries, replicas, false, extra...)
	if err != nil {
		tb.Fatal(err)
	}
	c.tb = tb
	for _, n := range c.Nodes {
		n.tb = tb
	}
	tb.Cleanup(c.stop)
	return c
}

// startCluster starts a cluster of len(dirs) nodes, one per data
// directory, for StartCluster or, shared, for a cluster shared by a
// package's tests. On an error, the nodes started so far are stopped.
func startCluster(dirs []string, primaries, replicas int, shared bool, extra ...string) (*Cluster, error) {
	c := &Cluster{}
	// With replicas, a dead primary is replaced after two seconds (a busy
	// but live node answers well within that); without, nothing can
	// replace it, and a long timeout keeps a node that is only slow from
	// being judged failed.
	timeout := "2000"
	if replicas == 0 {
		timeout = "15000"
	}
	for _, dir := range dirs {
		args := append([]string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", timeout, "--cluster-require-full-coverage", "no"}, extra...)
		s := &Server{dir: dir, args: args, shared: shared}
		if err := s.startOnFreePort(clusterPort); err != nil {
			c.stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
		c.Addrs = append(c.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", fmt.Sprint(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		c.stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitOK(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// stop stops every node.
func (c *Cluster) stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// clusterPort finds a free port whose cluster bus port (port + 10000) is
// free and valid too.
func clusterPort() (int, error) {
	for range 100 {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p+10000))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// WaitOK waits until every running node reports cluster_state:ok, which
// a node says once all slots are served as it sees them (bounded: 30 s).
func (c *Cluster) WaitOK() {
	c.tb.Helper()
	if err := c.waitOK(); err != nil {
		c.tb.Fatal(err)
	}
}

func (c *Cluster) waitOK() error {
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok := true
		for _, n := range c.Nodes {
			if n.cmd == nil {
				continue
			}
			cl := redis.NewClient(&redis.Options{Addr: n.Addr})
			info, err := cl.ClusterInfo(ctx).Result()
			_ = cl.Close()
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the cluster did not become ok within 30 s")
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
}

// Client returns a cluster client over the nodes, closed when the test
// ends.
func (c *Cluster) Client(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { _ = cl.Close() })
	if err := cl.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("ping the cluster: %v", err)
	}
	return cl
}

// Primary returns the node serving key's slot now.
func (c *Cluster) Primary(key string) *Server {
	c.tb.Helper()
	ctx := context.Background()
	slot := redis.NewClient(&redis.Options{Addr: c.Addrs[0]})
	defer slot.Close()
	n, err := slot.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.tb.Fatalf("cluster keyslot: %v", err)
	}
	for _, node := range c.Nodes {
		if node.cmd == nil {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: node.Addr})
		slots, err := cl.ClusterSlots(ctx).Result()
		_ = cl.Close()
		if err != nil {
			continue
		}
		for _, s := range slots {
			if int64(s.Start) <= n && n <= int64(s.End) && len(s.Nodes) > 0 {
				for _, cand := range c.Nodes {
					if cand.Addr == s.Nodes[0].Addr {
						return cand
					}
				}
			}
		}
	}
	c.tb.Fatalf("no node serves the slot of %q", key)
	return nil
}
