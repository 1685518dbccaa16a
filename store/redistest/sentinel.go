package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a primary with one replica, watched by one sentinel, all
// owned by one test.
type Sentinel struct {
	Primary, Replica, Sentinel *Server
	// MasterName is the name the sentinel knows the primary by.
	MasterName string
	tb         testing.TB
}

// StartSentinel starts a primary, a replica of it and a sentinel that
// monitors them (quorum 1, the primary judged down after 1 s), and returns
// once the sentinel knows the replica.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	st := &Sentinel{MasterName: "enlace", tb: tb}
	st.Primary = Start(tb)
	st.Replica = Start(tb, "--replicaof", "127.0.0.1", portOf(st.Primary.Addr))
	dir := tb.TempDir()
	conf := filepath.Join(dir, "sentinel.conf")
	body := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]s 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n",
		st.MasterName, portOf(st.Primary.Addr))
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, dir: dir, conf: conf}
	s.startOwned(tb)
	st.Sentinel = s
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
	defer sc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		replicas, err := sc.Replicas(context.Background(), st.MasterName).Result()
		if err == nil && len(replicas) > 0 {
			return st
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the sentinel does not know the replica after 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond) // polling a process we do not control
	}
}

// MasterAddr asks the sentinel where the primary is now.
func (st *Sentinel) MasterAddr() string {
	st.tb.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: st.Sentinel.Addr})
	defer sc.Close()
	addr, err := sc.GetMasterAddrByName(context.Background(), st.MasterName).Result()
	if err != nil || len(addr) != 2 {
		st.tb.Fatalf("sentinel master address: %v %v", addr, err)
	}
	return addr[0] + ":" + addr[1]
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i+1:]
		}
	}
	return addr
}
