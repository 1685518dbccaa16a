// Package redistest starts real redis-server processes for tests, each on a
// free loopback port with its own data directory, so tests never touch a
// Redis that is already running on the machine and can stop and restart
// their own.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is a redis-server process owned by one test.
type Server struct {
	Addr string
	tb   testing.TB
	dir  string
	args []string
	conf string // a sentinel's configuration file
	tls  bool   // listen with TLS only
	// shared: the server outlives the test that started it (see
	// ForEachBackend), so no test's cleanup stops it if the test binary
	// dies; it is made to die with the binary instead.
	shared bool
	cmd    *exec.Cmd
	done   chan struct{}
}

// Start launches redis-server on a free loopback port and stops it when the
// test ends. extra are additional redis-server arguments (e.g.
// "--appendonly", "yes"). The test fails, rather than skips, when
// redis-server is not installed: the README's test command installs it.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		tb.Fatalf("redis-server is not installed (apt-get install -y redis-server): %v", err)
	}
	s := &Server{tb: tb, dir: tb.TempDir(), args: extra}
	s.startOwned(tb)
	return s
}

// startOwned starts s on a free port and stops it when the test ends.
func (s *Server) startOwned(tb testing.TB) {
	tb.Helper()
	if err := s.startOnFreePort(freePort); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
}

// startOnFreePort starts s on a port from pick, trying a few (another
// process may take a free port first).
func (s *Server) startOnFreePort(pick func() (int, error)) error {
	var err error
	for range 5 {
		var port int
		if port, err = pick(); err != nil {
			return err
		}
		if err = s.start(port); err == nil {
			return nil
		}
	}
	return fmt.Errorf("start redis-server: %w", err)
}

// StartTLS is Start for a server that listens with TLS only; extra must
// name its certificate, key and CA (--tls-cert-file and friends).
func StartTLS(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, dir: tb.TempDir(), args: extra, tls: true}
	s.startOwned(tb)
	return s
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(port int) error {
	var args []string
	if s.conf != "" {
		// A sentinel: its configuration file comes first.
		args = append(args, s.conf, "--sentinel")
	}
	portArgs := []string{"--port", strconv.Itoa(port)}
	if s.tls {
		portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port)}
	}
	args = append(args, portArgs...)
	args = append(args, []string{
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--logfile", "",
		"--daemonize", "no",
		"--protected-mode", "yes",
	}...)
	if s.conf == "" {
		args = append(args, "--save", "", "--appendonly", "no")
	}
	args = append(args, s.args...)
	cmd := exec.Command("redis-server", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	start := cmd.Start
	if s.shared {
		start = func() error { return startDyingWithParent(cmd) }
	}
	if err := start(); err != nil {
		return err
	}
	// redis-server logs this line once it accepts connections; waiting for
	// it avoids polling. Its log is kept for the failure message.
	ready := make(chan error, 1)
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				log.WriteString(line + "\n")
				// A sentinel says no "Ready" line; its id comes once it listens.
				if strings.Contains(line, "Ready to accept connections") ||
					(s.conf != "" && strings.Contains(line, "Sentinel ID is")) {
					signalled = true
					ready <- nil
				}
			}
		}
		if !signalled {
			ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case err := <-ready:
		if err != nil {
			<-done
			return err
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("redis-server did not become ready in 10s")
	}
	s.Addr = "127.0.0.1:" + strconv.Itoa(port)
	s.cmd, s.done = cmd, done
	return nil
}

// Stop kills the server and waits for it to exit. Stopping twice is harmless.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same address and data directory.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	_, portStr, _ := net.SplitHostPort(s.Addr)
	port, _ := strconv.Atoi(portStr)
	if err := s.start(port); err != nil {
		s.tb.Fatalf("restart redis-server: %v", err)
	}
}

// Client returns a go-redis client for the server, closed when the test ends.
func (s *Server) Client(tb testing.TB) *redis.Client {
	tb.Helper()
	return newClient(tb, s.Addr)
}

// Embedded starts an in-process miniredis (the server's zero-setup default)
// and returns a client for it, both closed when the test ends.
func Embedded(tb testing.TB) (*miniredis.Miniredis, *redis.Client) {
	tb.Helper()
	m := miniredis.NewMiniRedis()
	if err := m.Start(); err != nil {
		tb.Fatalf("start miniredis: %v", err)
	}
	tb.Cleanup(m.Close)
	return m, newClient(tb, m.Addr())
}

func newClient(tb testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr})
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("ping redis at %s: %v", addr, err)
	}
	return c
}
