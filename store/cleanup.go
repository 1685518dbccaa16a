package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The background work: the clean-up after app-wide revocations and the
// trimming of expired index entries. Every instance runs RunMaintenance;
// a lease in Redis lets one of them work at a time (an instance that
// stalls past its lease may overlap with the next holder for a batch: the
// work is idempotent and its counts are added, so nothing is lost), and all
// progress is kept in Redis, so another instance (or the same one,
// restarted) carries on where one that died stopped.

// Revocation is the state of an app's last app-wide revocation and of its
// clean-up.
type Revocation struct {
	ClientID   string
	Generation int64
	By         Actor
	StartedAt  time.Time
	// Shard is the shard the clean-up is at (Shards when done).
	Shard int
	// Revoked counts the connections the clean-up has revoked so far.
	Revoked int
	// Done is set once every shard has been cleaned.
	Done       bool
	FinishedAt time.Time
}

// RevokeAllConnections revokes every connection the app has, at once,
// whatever their number: one write, the app's generation (App), after
// which every check refuses them. The connections themselves are revoked
// in the background by RunMaintenance, which reports through
// AppRevocation. Connections approved after the call are not affected.
func (s *Store) RevokeAllConnections(ctx context.Context, clientID string, by Actor) (*Revocation, error) {
	if _, err := s.changeApp(ctx, clientID, "revoke-all", by, nil); err != nil {
		return nil, err
	}
	return s.AppRevocation(ctx, clientID)
}

// AppRevocation returns the app's last app-wide revocation, or ErrNotFound
// when there was none.
func (s *Store) AppRevocation(ctx context.Context, clientID string) (*Revocation, error) {
	m, err := s.rdb.HGetAll(ctx, appRevocationKey(clientID)).Result()
	if err != nil {
		return nil, fmt.Errorf("read app revocation: %w", err)
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	num := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	return &Revocation{
		ClientID: clientID, Generation: num("gen"), By: Actor(m["by"]), StartedAt: fromMS(num("started_at")),
		Shard: int(num("shard")), Revoked: int(num("revoked")), Done: m["finished_at"] != "",
		FinishedAt: fromMS(num("finished_at")),
	}, nil
}

// MaintenanceOptions tune RunMaintenance; zero values take the defaults.
type MaintenanceOptions struct {
	// Holder names this instance in the lease; a random id by default.
	Holder string
	// Lease is how long the lease lasts unless renewed (30 s).
	Lease time.Duration
	// Tick is the pause between two batches of clean-up (100 ms).
	Tick time.Duration
	// Batch is how many connections one clean-up step revokes (256).
	Batch int
	// TrimEvery is the pause between two trimming passes over the
	// indexes (10 s); each pass reads at most TrimBatch members of each
	// index of each shard.
	TrimEvery time.Duration
	TrimBatch int
	// OnStep, if set, is called after each clean-up step, for tests.
	OnStep func(Revocation)
}

func (o MaintenanceOptions) normal() MaintenanceOptions {
	if o.Holder == "" {
		o.Holder = NewID()
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.TrimEvery <= 0 {
		o.TrimEvery = 10 * time.Second
	}
	if o.TrimBatch <= 0 {
		o.TrimBatch = 500
	}
	return o
}

// LeaseArgs are the arguments of lua/lease.lua.
type LeaseArgs struct {
	Holder string `json:"holder"`
	TTL    int64  `json:"ttl"`
}

// LeaseResult is the answer of lua/lease.lua.
type LeaseResult struct{ verdict }

var leaseScript = newScript[LeaseArgs, LeaseResult]("lease", false)

// lease takes or keeps the maintenance lease (ttl > 0) or gives it back
// (ttl 0), and reports whether this holder has it.
func (s *Store) lease(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	res, err := leaseScript.run(ctx, s.rdb, []string{leaseKey}, LeaseArgs{Holder: holder, TTL: ttl.Milliseconds()})
	if err != nil {
		return false, fmt.Errorf("maintenance lease: %w", err)
	}
	return res.Outcome == OutcomeOK, nil
}

// RunMaintenance does the background work until ctx ends, whenever this
// instance holds the lease, and gives the lease back on the way out.
func (s *Store) RunMaintenance(ctx context.Context, o MaintenanceOptions) {
	o = o.normal()
	defer func() { _, _ = s.lease(context.WithoutCancel(ctx), o.Holder, 0) }()
	var lastTrim time.Time
	trim := make([]string, Shards*3) // where each index's trimming pass is
	// While Redis fails, the loop backs off (up to 5 s) and says so once,
	// not every tick.
	failures := 0
	report := func(what string, err error) bool {
		if err == nil || ctx.Err() != nil {
			return false
		}
		if failures == 0 {
			s.log.Warn("maintenance failed; retrying", "step", what, "err", err)
		}
		failures++
		return true
	}
	holding := false
	// With no clean-up pending, the queues are looked at once a second,
	// not every tick.
	var idleUntil time.Time
	for {
		failed := false
		held, err := s.lease(ctx, o.Holder, o.Lease)
		failed = report("lease", err)
		if held != holding && err == nil {
			holding = held
			if held {
				s.log.Info("maintenance lease taken", "holder", o.Holder)
			} else {
				s.log.Info("maintenance lease held by another instance", "this_instance", o.Holder)
			}
		}
		if held {
			if time.Now().After(idleUntil) {
				worked, err := s.cleanupStep(ctx, o)
				failed = report("app revocation clean-up", err) || failed
				if !worked && err == nil {
					idleUntil = time.Now().Add(time.Second)
				}
			}
			if time.Since(lastTrim) >= o.TrimEvery {
				lastTrim = time.Now()
				failed = report("trim connection indexes", s.trimIndexes(ctx, trim, o.TrimBatch)) || failed
			}
		}
		if !failed && failures > 0 {
			s.log.Info("maintenance works again", "failures", failures)
			failures = 0
		}
		wait := o.Tick
		if failures > 0 {
			wait = min(5*time.Second, o.Tick<<min(failures, 10))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// cleanupStep revokes one batch of the oldest pending clean-up of each
// shard's queue, records how far it got, and reports whether there was
// any.
func (s *Store) cleanupStep(ctx context.Context, o MaintenanceOptions) (bool, error) {
	cmds := make([]*redis.StringSliceCmd, Shards)
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.ZRange(ctx, appRevocationsKey(n), 0, 0)
		}
		return nil
	}); err != nil {
		return false, fmt.Errorf("read pending clean-ups: %w", err)
	}
	worked := false
	for n, c := range cmds {
		for _, clientID := range c.Val() {
			worked = true
			if err := s.cleanupBatch(ctx, n, clientID, o); err != nil {
				return true, err
			}
		}
	}
	return worked, nil
}

func (s *Store) cleanupBatch(ctx context.Context, queue int, clientID string, o MaintenanceOptions) error {
	key := appRevocationKey(clientID)
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("read clean-up: %w", err)
	}
	gen, _ := strconv.ParseInt(m["gen"], 10, 64)
	shard, _ := strconv.Atoi(m["shard"])
	if len(m) == 0 || m["finished_at"] != "" || shard >= Shards {
		// Off the queue, unless a new revocation has just restarted it.
		_, err := s.progress(ctx, queue, ProgressArgs{ClientID: clientID, Gen: gen, Shard: Shards})
		return err
	}
	// The app's members of older generations, from the cursor on.
	prefix := clientID + ":"
	min := "[" + prefix
	if c := m["cursor"]; c != "" {
		min = "(" + c
	}
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: appConnsKey(shard), Start: min,
		Stop: "(" + appGen(clientID, gen) + ":", ByLex: true, Count: int64(o.Batch)}).Result()
	if err != nil {
		return fmt.Errorf("read clean-up batch: %w", err)
	}
	tx := s.Transitions()
	now := MillisOf(s.now())
	revoked := 0
	if len(members) > 0 {
		reason := m["reason"]
		if reason == "" {
			reason = ReasonAppRevoked
		}
		in, err := jsonArgs(RevokeArgs{Now: now, By: Actor(m["by"]), BelowGen: gen,
			Detail: "app-wide revocation", Reason: reason, AuditMax: tx.auditMax})
		if err != nil {
			return err
		}
		results := make([]*redis.Cmd, len(members))
		// All at once, by EVALSHA; those a node answers NOSCRIPT (its script
		// cache lost, or a replica just promoted) again by EVAL, so that
		// each revocation is counted once, by the run that made it.
		send := func(idx []int, eval bool) error {
			_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, i := range idx {
					id := members[i][strings.LastIndexByte(members[i], ':')+1:]
					if eval {
						results[i] = revokeScript.s.Eval(ctx, p, connKeys(id), in)
					} else {
						results[i] = revokeScript.s.EvalSha(ctx, p, connKeys(id), in)
					}
				}
				return nil
			})
			return err
		}
		all := make([]int, len(members))
		for i := range all {
			all[i] = i
		}
		if err := send(all, false); err != nil && !redis.HasErrorPrefix(err, "NOSCRIPT") {
			return fmt.Errorf("clean-up batch: %w", err)
		}
		var again []int
		for i, r := range results {
			if redis.HasErrorPrefix(r.Err(), "NOSCRIPT") {
				again = append(again, i)
			}
		}
		if len(again) > 0 {
			if err := send(again, true); err != nil {
				return fmt.Errorf("clean-up batch: %w", err)
			}
		}
		var gone []string
		for i, r := range results {
			if r.Err() != nil {
				return fmt.Errorf("clean-up batch: %w", r.Err())
			}
			res, err := revokeScript.decode(r.Val().(string))
			if err != nil {
				return err
			}
			switch res.Outcome {
			case OutcomeOK:
				revoked++
			case OutcomeMissing:
				gone = append(gone, members[i]) // expired: only its entry is left
			}
		}
		if len(gone) > 0 {
			if err := s.trimApps(ctx, shard, gone); err != nil {
				return fmt.Errorf("clean-up batch: %w", err)
			}
		}
	}
	next := ProgressArgs{ClientID: clientID, Gen: gen, Revoked: revoked, Shard: shard, Now: now}
	if len(members) < o.Batch {
		next.Shard = shard + 1
	} else {
		next.Cursor = members[len(members)-1]
	}
	res, err := s.progress(ctx, queue, next)
	if err != nil {
		return err
	}
	if res.Outcome == OutcomeOK && next.Shard >= Shards {
		s.log.Info("app revocation clean-up finished", "client_id", clientID, "generation", gen)
	}
	if o.OnStep != nil {
		if r, err := s.AppRevocation(ctx, clientID); err == nil {
			o.OnStep(*r)
		}
	}
	return nil
}

// ProgressArgs are the arguments of lua/progress.lua.
type ProgressArgs struct {
	ClientID string `json:"client_id"`
	Gen      int64  `json:"gen"`
	Revoked  int    `json:"revoked"`
	Shard    int    `json:"shard"`
	Cursor   string `json:"cursor"`
	Now      Millis `json:"now"`
	Shards   int    `json:"shards"`
}

// ProgressResult is the answer of lua/progress.lua.
type ProgressResult struct{ verdict }

var progressScript = newScript[ProgressArgs, ProgressResult]("progress", false)

// progress records a clean-up batch, or dequeues a finished clean-up, in
// one step with the check that no new revocation restarted it.
func (s *Store) progress(ctx context.Context, queue int, a ProgressArgs) (*ProgressResult, error) {
	a.Shards = Shards
	res, err := progressScript.run(ctx, s.rdb, []string{appRevocationKey(a.ClientID), appRevocationsKey(queue)}, a)
	if err != nil {
		return nil, fmt.Errorf("record clean-up progress: %w", err)
	}
	if err := res.check("progress", OutcomeOK, OutcomeRefused, OutcomeMissing); err != nil && res.Outcome != OutcomeRefused {
		return nil, err
	}
	return res, nil
}

// trimIndexes drops the entries of expired connections from the indexes,
// at most batch members of each index of each shard per pass; pos keeps
// where each pass stopped.
func (s *Store) trimIndexes(ctx context.Context, pos []string, batch int) error {
	now := ms(s.now())
	type read struct {
		key string
		at  int
		cmd *redis.StringSliceCmd
	}
	var reads []read
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			// The all-connections index starts with the expiry: the
			// expired members are its first ones.
			reads = append(reads, read{connsIndexKey(n), -1, p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: connsIndexKey(n),
				Start: "-", Stop: fmt.Sprintf("(%013d", now), ByLex: true, Count: int64(batch)})})
			for k, key := range []string{appConnsKey(n), merchantConnsKey(n)} {
				at := n*3 + 1 + k
				min := "-"
				if pos[at] != "" {
					min = "(" + pos[at]
				}
				reads = append(reads, read{key, at, p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: min, Stop: "+",
					ByLex: true, Count: int64(batch)})})
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read indexes: %w", err)
	}
	var appGone [Shards][]string
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, r := range reads {
			members := r.cmd.Val()
			var gone []any
			for _, m := range members {
				if memberExpiry(m) < now {
					gone = append(gone, m)
				}
			}
			if r.at >= 0 {
				pos[r.at] = ""
				if len(members) == batch {
					pos[r.at] = members[len(members)-1]
				}
			}
			if len(gone) == 0 {
				continue
			}
			if r.key == appConnsKey(i/3) {
				// With their counts, by trim.lua, below.
				for _, g := range gone {
					appGone[i/3] = append(appGone[i/3], g.(string))
				}
				continue
			}
			p.ZRem(ctx, r.key, gone...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("trim indexes: %w", err)
	}
	for n, gone := range appGone {
		if len(gone) > 0 {
			if err := s.trimApps(ctx, n, gone); err != nil {
				return fmt.Errorf("trim indexes: %w", err)
			}
		}
	}
	return nil
}

// TrimArgs are the arguments of lua/trim.lua.
type TrimArgs struct {
	Members []string `json:"members"`
}

// TrimResult is the answer of lua/trim.lua.
type TrimResult struct {
	verdict
	Removed int `json:"removed"`
}

var trimScript = newScript[TrimArgs, TrimResult]("trim", false)

// trimApps takes expired entries out of shard n's index of apps, with
// their counts.
func (s *Store) trimApps(ctx context.Context, n int, members []string) error {
	_, err := trimScript.run(ctx, s.rdb, []string{appConnsKey(n), appCountsKey(n)}, TrimArgs{Members: members})
	return err
}

// memberExpiry reads the expiry of an index member: the 13 digits before
// its last field, the connection id (keys.go).
func memberExpiry(m string) int64 {
	end := strings.LastIndexByte(m, ':')
	if end < 13 {
		return 0
	}
	v, _ := strconv.ParseInt(m[end-13:end], 10, 64)
	return v
}
