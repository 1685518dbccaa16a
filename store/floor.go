package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// The Floor methods are the Redis work of enlace's endpoints and nothing
// else: the same scripts and commands, over the same number of keys, with
// the same arguments in number and size, but without minting, hashing
// passwords, sealing or anything else that is not a Redis round trip. The
// server's benchmark floor (server/floor.go, on only with bench.floor)
// answers with them, so that `enlace bench` can compare each endpoint with
// what Redis alone costs. They change only data the benchmark prepared, or
// keys under "floor:"; the login floor also reads (never writes) the
// merchant's records.

// floorPrefix starts every key that only the floor writes.
const floorPrefix = "floor:"

// floorFixed are the arguments that the real paths compute per call
// (digests of fresh tokens, a token record id, a sealed retry answer),
// computed once: same sizes, no per-call work.
type floorFixed struct {
	accessDigest, refreshDigest, codeDigest, tokenID, sealed, session string
}

func newFloorFixed() floorFixed {
	connID := NewID()
	iss := &Issued{TokenID: NewID(), AccessToken: NewCredential(KindAccess, connID),
		RefreshToken: NewCredential(KindRefresh, connID), IssuedAt: time.Now()}
	iss.AccessExpiresAt, iss.RefreshExpiresAt = iss.IssuedAt.Add(time.Hour), iss.IssuedAt.Add(time.Hour)
	sealed, err := iss.seal(NewCredential(KindRefresh, connID))
	if err != nil {
		panic(err)
	}
	return floorFixed{
		accessDigest:  Digest(iss.AccessToken),
		refreshDigest: Digest(iss.RefreshToken),
		codeDigest:    Digest(NewCredential(KindCode, connID)),
		tokenID:       iss.TokenID,
		sealed:        sealed,
		// A session's stored values: {"csrf":…,"merchant_id":…}.
		session: `{"csrf":"` + NewSecret() + `","merchant_id":"` + connID + `"}`,
	}
}

// floorArgs returns the store's fixed floor arguments, made on first use.
func (s *Store) floorArgs() floorFixed {
	s.floorOnce.Do(func() { s.floorFixed = newFloorFixed() })
	return s.floorFixed
}

// errFloor is a floor call that did not take the success path, which
// means the benchmark sent it something it did not prepare.
var errFloor = errors.New("floor: not the success path")

// FloorExchange runs the exchange script on a prepared code, as
// ExchangeCode does on its success path (without minting the new pair or
// writing the audit event).
func (s *Store) FloorExchange(ctx context.Context, code, clientID string) error {
	connID, ok := ParseCredential(KindCode, code)
	if !ok {
		return errFloor
	}
	a, now := s.floorArgs(), s.now()
	res, err := exchangeScript.Run(ctx, s.rdb, []string{connKey(connID), retryKey(connID)},
		Digest(code), clientID, "", "", ms(now), a.accessDigest, a.refreshDigest,
		ms(now.Add(s.lifetimes.Access)), ms(now.Add(s.lifetimes.Refresh)), a.tokenID,
	).StringSlice()
	return floorResult(res, err)
}

// FloorRefresh runs the refresh script on a prepared refresh token, as
// Refresh does on its success path (without minting, sealing or auditing).
func (s *Store) FloorRefresh(ctx context.Context, refreshToken, clientID string) error {
	connID, ok := ParseCredential(KindRefresh, refreshToken)
	if !ok {
		return errFloor
	}
	a, now := s.floorArgs(), s.now()
	res, err := refreshScript.Run(ctx, s.rdb, []string{connKey(connID), retryKey(connID)},
		Digest(refreshToken), clientID, ms(now), a.accessDigest, a.refreshDigest,
		ms(now.Add(s.lifetimes.Access)), ms(now.Add(s.lifetimes.Refresh)), a.tokenID,
		"", a.sealed, ms(now.Add(s.lifetimes.RetryWindow)),
	).StringSlice()
	return floorResult(res, err)
}

func floorResult(res []string, err error) error {
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if len(res) == 0 || res[0] != "ok" {
		return fmt.Errorf("%w: %s", errFloor, strings.Join(res, " "))
	}
	return nil
}

// FloorLookup reads a token's connection as LookupAccess does: one HMGET
// of the same fields (the digest is not compared).
func (s *Store) FloorLookup(ctx context.Context, token string) error {
	connID, ok := ParseCredential(KindAccess, token)
	if !ok {
		return errFloor
	}
	v, err := s.rdb.HMGet(ctx, connKey(connID),
		"at", "at_exp", "status", "client_id", "merchant_id", "at_scopes", "tid", "issued_at").Result()
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if v[0] == nil {
		return errFloor
	}
	return nil
}

func floorSessionKey(merchantID string) string { return floorPrefix + "session:" + merchantID }

// floorSessionTTL bounds what the floor writes: nothing of it outlives a
// benchmark for long.
const floorSessionTTL = 10 * time.Minute

// FloorLoginPage is the Redis work of showing the login page to a browser
// without a session: saving the new session with its CSRF token (one SET).
func (s *Store) FloorLoginPage(ctx context.Context, merchantID string) error {
	if err := s.rdb.Set(ctx, floorSessionKey(merchantID), s.floorArgs().session, floorSessionTTL).Err(); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// floorLimits are never reached: the floor counts attempts on its own keys.
var floorLimits = LoginLimits{PerAccount: 1 << 30, PerAddress: 1 << 30, Period: time.Minute}

// FloorLogin is the Redis work of a successful login, in the same order:
// load the session, count the attempt (the same rate-limit script, twice),
// look up the email and the merchant, renew and save the session, and take
// the attempt back. The password hash is not checked: that is CPU, not
// Redis.
func (s *Store) FloorLogin(ctx context.Context, merchantID, email string) error {
	key := floorSessionKey(merchantID)
	if err := s.rdb.Get(ctx, key).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("floor: %w", err)
	}
	if _, err := s.LoginAttempt(ctx, "floor", email, "floor", floorLimits); err != nil {
		return err
	}
	if err := s.rdb.Get(ctx, merchantEmailKey(NormalizeEmail(email))).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("floor: %w", err)
	}
	if _, err := s.rdb.HGetAll(ctx, merchantKey(merchantID)).Result(); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if err := s.rdb.Del(ctx, key).Err(); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	if err := s.FloorLoginPage(ctx, merchantID); err != nil {
		return err
	}
	return s.LoginSucceeded(ctx, "floor", email, "floor", floorLimits)
}

// FloorConsentPage is the Redis work of showing the consent page to a
// logged-in merchant: load the session, then the merchant.
func (s *Store) FloorConsentPage(ctx context.Context, merchantID string) error {
	if err := s.rdb.Get(ctx, floorSessionKey(merchantID)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("floor: %w", err)
	}
	if _, err := s.rdb.HGetAll(ctx, merchantKey(merchantID)).Result(); err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// FloorApprove is the Redis work of approving on the consent page: the
// consent page's two reads, then Approve's pipeline, written under floor:
// keys that expire (the audit event is left out, as on every floor path).
func (s *Store) FloorApprove(ctx context.Context, g Grant) error {
	if err := s.FloorConsentPage(ctx, g.MerchantID); err != nil {
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	id := NewID()
	key := floorPrefix + connKey(id)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key,
			"id", id,
			"merchant_id", g.MerchantID,
			"client_id", g.ClientID,
			"scopes", strings.Join(g.Scopes, " "),
			"created_at", ms(now),
			"status", StatusPending,
			"code", s.floorArgs().codeDigest,
			"code_exp", ms(now.Add(s.lifetimes.Code)),
			"code_used", "0",
			"redirect_uri", g.RedirectURI,
			"code_challenge", g.CodeChallenge,
		)
		p.PExpireAt(ctx, key, now.Add(floorSessionTTL))
		p.ZAdd(ctx, floorPrefix+merchantConnsKey(g.MerchantID), redis.Z{Score: float64(ms(now)), Member: id})
		p.ZAdd(ctx, floorPrefix+appConnsKey(g.ClientID), redis.Z{Score: float64(ms(now)), Member: id})
		p.ZAdd(ctx, floorPrefix+connsIndexKey, redis.Z{Score: float64(ms(now)), Member: id})
		return nil
	})
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// FloorCleanup deletes every floor: key and the floor's rate-limit keys,
// and returns how many it deleted. On a cluster it scans every primary and
// deletes key by key (the keys are in many slots).
func (s *Store) FloorCleanup(ctx context.Context) (int, error) {
	var n atomic.Int64
	err := s.ForEachPrimary(ctx, func(ctx context.Context, node redis.Cmdable) error {
		// redis_rate keeps its counters under "rate:".
		for _, pattern := range []string{floorPrefix + "*", "rate:login:floor:*", "rate:login:addr:floor"} {
			iter := node.Scan(ctx, 0, pattern, 1000).Iterator()
			var batch []string
			flush := func() error {
				if len(batch) == 0 {
					return nil
				}
				_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
					for _, k := range batch {
						p.Unlink(ctx, k)
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("floor cleanup: %w", err)
				}
				n.Add(int64(len(batch)))
				batch = batch[:0]
				return nil
			}
			for iter.Next(ctx) {
				batch = append(batch, iter.Val())
				if len(batch) == 1000 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			if err := iter.Err(); err != nil {
				return fmt.Errorf("floor cleanup: %w", err)
			}
			if err := flush(); err != nil {
				return err
			}
		}
		return nil
	})
	return int(n.Load()), err
}

// ForEachPrimary runs fn on the one server, or on every primary of a
// cluster (concurrently), for commands that answer for one node only
// (SCAN, KEYS, INFO).
func (s *Store) ForEachPrimary(ctx context.Context, fn func(ctx context.Context, node redis.Cmdable) error) error {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return fn(ctx, c) })
	}
	return fn(ctx, s.rdb)
}
