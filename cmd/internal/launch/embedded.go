package launch

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/enlace-oauth/enlace/server/config"
	"github.com/enlace-oauth/enlace/store"
)

// embeddedInfo is how the admin commands reach the embedded Redis of a
// running server: written to <embedded.dir>/redis.json (mode 0600) while
// the server runs, removed when it stops.
type embeddedInfo struct {
	Addr     string `json:"addr"`
	Password string `json:"password"`
	PID      int    `json:"pid"`
}

func embeddedInfoPath(dir string) string { return filepath.Join(dir, "redis.json") }

// readEmbeddedInfo returns the file of a server running on dir's embedded
// Redis, or an error when there is none.
func readEmbeddedInfo(dir string) (*embeddedInfo, error) {
	b, err := os.ReadFile(embeddedInfoPath(dir))
	if err != nil {
		return nil, err
	}
	var info embeddedInfo
	if err := json.Unmarshal(b, &info); err != nil || info.Addr == "" {
		return nil, fmt.Errorf("%s is not one enlace wrote", embeddedInfoPath(dir))
	}
	return &info, nil
}

// answers reports whether a Redis answers at info.
func (info *embeddedInfo) answers(ctx context.Context) bool {
	rdb := redis.NewClient(&redis.Options{Addr: info.Addr, Password: info.Password, DialTimeout: time.Second,
		MaxRetries: -1})
	defer rdb.Close()
	return rdb.Ping(ctx).Err() == nil
}

// WriteFileAtomic writes b to path with mode perm, all or nothing: into a
// temporary file of the same directory, then renamed over path.
func WriteFileAtomic(path string, b []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// startEmbedded runs miniredis in process, on a loopback port behind a
// random password, and writes where it is to dir for the admin commands.
// miniredis only ages keys when told to, so a ticker moves its clock on
// with real time; without it no TTL would ever fire. stop closes it and
// removes the file.
func startEmbedded(ctx context.Context, dir string) (addr, password string, stop func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("embedded.dir: %w", err)
	}
	if info, err := readEmbeddedInfo(dir); err == nil && info.answers(ctx) {
		return "", "", nil, fmt.Errorf("another enlace serve (pid %d) runs on the embedded Redis of %s: "+
			"stop it, or give this one another embedded.dir (ENLACE_EMBEDDED_DIR)", info.PID, dir)
	}
	m := miniredis.NewMiniRedis()
	password = store.NewSecret()
	m.RequireAuth(password)
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return "", "", nil, fmt.Errorf("start embedded redis: %w", err)
	}
	info, err := json.Marshal(embeddedInfo{Addr: m.Addr(), Password: password, PID: os.Getpid()})
	if err != nil {
		m.Close()
		return "", "", nil, fmt.Errorf("encode %s: %w", embeddedInfoPath(dir), err)
	}
	if err := WriteFileAtomic(embeddedInfoPath(dir), info, 0o600); err != nil {
		m.Close()
		return "", "", nil, err
	}
	tctx, cancel := context.WithCancel(ctx)
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-tctx.Done():
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	stop = func() {
		cancel()
		<-ticked
		// Only this server's file: a later server may have replaced it.
		if cur, err := readEmbeddedInfo(dir); err == nil && cur.Addr == m.Addr() {
			_ = os.Remove(embeddedInfoPath(dir))
		}
		m.Close()
	}
	return m.Addr(), password, stop, nil
}

// UseRunningEmbedded points cfg at the embedded Redis of a server running
// on cfg.Embedded.Dir, for an admin command run with no Redis configured.
func UseRunningEmbedded(ctx context.Context, cfg *config.Config) error {
	info, err := readEmbeddedInfo(cfg.Embedded.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err != nil || !info.answers(ctx) {
		return fmt.Errorf("no Redis is configured and no `enlace serve` is running on the embedded Redis of %s: "+
			"start `enlace serve` (from this directory) in another terminal, or set ENLACE_REDIS_ADDR or redis.addr",
			cfg.Embedded.Dir)
	}
	cfg.Redis.Addr, cfg.Redis.Password, cfg.Redis.DB = info.Addr, info.Password, 0
	return useEmbeddedKey(cfg)
}

// useEmbeddedKey gives the embedded mode an encryption key when none is
// configured: made once and kept in the data directory (0600), so the
// admin commands and a restarted server read what the server sealed.
func useEmbeddedKey(cfg *config.Config) error {
	if cfg.Encryption.Key != "" {
		return nil
	}
	path := filepath.Join(cfg.Embedded.Dir, "encryption.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := make([]byte, store.EncryptionKeyBytes)
		_, _ = rand.Read(key)
		b = []byte(base64.StdEncoding.EncodeToString(key) + "\n")
		if err := os.MkdirAll(cfg.Embedded.Dir, 0o700); err != nil {
			return fmt.Errorf("embedded mode: %w", err)
		}
		err = WriteFileAtomic(path, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("embedded mode: encryption key: %w", err)
	}
	cfg.Encryption.Key = strings.TrimSpace(string(b))
	if _, err := cfg.Encryption.KeyBytes(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
