package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Listings page with an opaque cursor: each index is a sorted set ordered
// by member (keys.go), and a cursor is the part of the last member read
// that follows the index's prefix, so the next page is a range read from
// just below it. A page costs O(page) on each shard, never O(total).

// Page asks for one page of a listing.
type Page struct {
	// Cursor is the Next of the page before; "" for the first page.
	Cursor string
	// Offset skips rows from the start instead (at most MaxOffset; not
	// with a Cursor). It costs what the skipped rows cost to read.
	Offset int
	// Limit is the page's size: 50 when 0, at most MaxLimit.
	Limit int
}

// Bounds of a Page.
const (
	MaxLimit  = 200
	MaxOffset = 1000
)

var errBadCursor = fmt.Errorf("%w: the cursor is not one this server gave", ErrInvalid)

// Cursors this store gives, once decoded: "<13 digits>:<id>".
var (
	connCursor = regexp.MustCompile(`^[0-9]{13}:[A-Za-z0-9._-]{1,64}$`)
	appsCursor = connCursor
)

func (p Page) normal() (Page, error) {
	switch {
	case p.Limit < 0 || p.Limit > MaxLimit:
		return p, fmt.Errorf("%w: limit must be between 1 and %d", ErrInvalid, MaxLimit)
	case p.Offset < 0 || p.Offset > MaxOffset:
		return p, fmt.Errorf("%w: offset must be between 0 and %d; page further with the cursor", ErrInvalid, MaxOffset)
	case p.Offset > 0 && p.Cursor != "":
		return p, fmt.Errorf("%w: give a cursor or an offset, not both", ErrInvalid)
	}
	if p.Limit == 0 {
		p.Limit = 50
	}
	return p, nil
}

func encodeCursor(v string) string { return base64.RawURLEncoding.EncodeToString([]byte(v)) }

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	return string(b), err == nil
}

// byCreation is the member of a record in an index by creation time
// ("<created_at, 13 digits>:<id>", scores 0): apps, merchants, admins.
func byCreation(created int64, id string) string { return fmt.Sprintf("%013d:%s", created, id) }

// pageByCreation reads a page of ids from an index by creation, oldest
// first, with its total: one round trip.
func (s *Store) pageByCreation(ctx context.Context, key string, p Page) (ids []string, next string, total int, err error) {
	p, err = p.normal()
	if err != nil {
		return nil, "", 0, err
	}
	min := "-"
	if p.Cursor != "" {
		after, ok := decodeCursor(p.Cursor)
		if !ok || !appsCursor.MatchString(after) {
			return nil, "", 0, errBadCursor
		}
		min = "(" + after
	}
	var rng *redis.StringSliceCmd
	var card *redis.IntCmd
	if _, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		rng = pl.ZRangeArgs(ctx, redis.ZRangeArgs{Key: key, Start: min, Stop: "+", ByLex: true,
			Offset: int64(p.Offset), Count: int64(p.Limit + 1)})
		card = pl.ZCard(ctx, key)
		return nil
	}); err != nil {
		return nil, "", 0, fmt.Errorf("read %s: %w", key, err)
	}
	members := rng.Val()
	if len(members) > p.Limit {
		members = members[:p.Limit]
		next = encodeCursor(members[len(members)-1])
	}
	ids = make([]string, len(members))
	for i, m := range members {
		_, ids[i], _ = strings.Cut(m, ":")
	}
	return ids, next, int(card.Val()), nil
}

// ConnectionFilter narrows a listing; empty fields match everything.
type ConnectionFilter struct {
	MerchantID string
	ClientID   string
}

// ConnectionPage is one page of connections.
type ConnectionPage struct {
	Connections []*Connection
	// Next is the cursor of the following page, "" on the last.
	Next string
	// Total is how many live connections match (with both a merchant and
	// an app, the merchant's), counted without reading a record. An app's
	// count drops to zero the moment it is revoked as a whole; the
	// merchant's and the overall count follow as the clean-up revokes
	// each connection.
	Total int
}

// index is a listing index and the prefix of the members it lists.
type index struct {
	key    func(shard int) string
	prefix string
}

// indexFor picks the index for f: a merchant's, an app's current
// generation (so an app-wide revocation empties it at once), or all.
func (s *Store) indexFor(ctx context.Context, f ConnectionFilter) (index, error) {
	switch {
	case f.MerchantID != "":
		return index{merchantConnsKey, f.MerchantID + ":"}, nil
	case f.ClientID != "":
		gen, err := s.AppGeneration(ctx, f.ClientID)
		if err != nil {
			return index{}, err
		}
		return appIndex(f.ClientID, gen), nil
	}
	return index{connsIndexKey, ""}, nil
}

func appIndex(clientID string, gen int64) index {
	return index{appConnsKey, appGen(clientID, gen) + ":"}
}

// bounds are the lexicographic range of the index's live members below
// after ("" for the top): expired ones sort below the current time.
func (ix index) bounds(now int64, after string) (max, min string) {
	max = "+"
	if ix.prefix != "" {
		max = "(" + ix.prefix + "\xff"
	}
	if after != "" {
		max = "(" + ix.prefix + after
	}
	return max, fmt.Sprintf("[%s%013d", ix.prefix, now)
}

// scan merges the shards' ranges: the n greatest live members below
// after (their suffixes, greatest first), and whether more may follow. It
// reads each shard in small batches and refills only the shards whose
// batch ran out, all of them in one pipeline per round: a page costs about
// a page, plus a batch per shard, whatever the index holds.
func (s *Store) scan(ctx context.Context, ix index, after string, n int) ([]string, bool, error) {
	now := ms(s.now())
	batch := int64(max(8, 2*n/Shards+1))
	type shard struct {
		items []string
		last  string // the suffix to read below next
		done  bool
	}
	shards := make([]shard, Shards)
	for i := range shards {
		shards[i].last = after
	}
	out := make([]string, 0, n)
	for len(out) < n {
		var need []int
		for i := range shards {
			if len(shards[i].items) == 0 && !shards[i].done {
				need = append(need, i)
			}
		}
		if len(need) > 0 {
			cmds := make([]*redis.StringSliceCmd, len(need))
			_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j, i := range need {
					max, min := ix.bounds(now, shards[i].last)
					cmds[j] = p.ZRangeArgs(ctx, redis.ZRangeArgs{Key: ix.key(i), Start: max, Stop: min, ByLex: true,
						Rev: true, Count: batch})
				}
				return nil
			})
			if err != nil {
				return nil, false, fmt.Errorf("read connection index: %w", err)
			}
			for j, i := range need {
				v := cmds[j].Val()
				sh := &shards[i]
				sh.done = int64(len(v)) < batch
				for _, m := range v {
					sh.items = append(sh.items, strings.TrimPrefix(m, ix.prefix))
				}
				if len(v) > 0 {
					sh.last = sh.items[len(sh.items)-1]
				}
			}
		}
		best := -1
		for i := range shards {
			if len(shards[i].items) > 0 && (best < 0 || shards[i].items[0] > shards[best].items[0]) {
				best = i
			}
		}
		if best < 0 {
			return out, false, nil
		}
		out = append(out, shards[best].items[0])
		shards[best].items = shards[best].items[1:]
	}
	for _, sh := range shards {
		if len(sh.items) > 0 || !sh.done {
			return out, true, nil
		}
	}
	return out, false, nil
}

// count is how many live members the index has, over every shard.
func (ix index) count(ctx context.Context, p redis.Pipeliner, now int64) []*redis.IntCmd {
	max, min := ix.bounds(now, "")
	cmds := make([]*redis.IntCmd, Shards)
	for sh := range Shards {
		cmds[sh] = p.ZLexCount(ctx, ix.key(sh), min, max)
	}
	return cmds
}

func sum(cmds []*redis.IntCmd) int {
	n := 0
	for _, c := range cmds {
		n += int(c.Val())
	}
	return n
}

// ListConnections returns a page of live connections (approved or active,
// not revoked, not expired), latest expiry first: the ones in use before
// the ones about to lapse. Connections of an app revoked as a whole are
// left out at once, before the clean-up reaches them.
func (s *Store) ListConnections(ctx context.Context, f ConnectionFilter, p Page) (*ConnectionPage, error) {
	p, err := p.normal()
	if err != nil {
		return nil, err
	}
	after := ""
	if p.Cursor != "" {
		var ok bool
		if after, ok = decodeCursor(p.Cursor); !ok || !connCursor.MatchString(after) {
			return nil, errBadCursor
		}
	}
	ix, err := s.indexFor(ctx, f)
	if err != nil {
		return nil, err
	}
	var total []*redis.IntCmd
	if _, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		total = ix.count(ctx, pl, ms(s.now()))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count connections: %w", err)
	}
	out := &ConnectionPage{Total: sum(total)}
	skip := p.Offset
	// With a merchant and an app, the merchant's index holds other apps'
	// entries too: the offset must count the rows the filter keeps, and
	// so read what it skips.
	rowFilter := f.MerchantID != "" && f.ClientID != ""
	gens := map[string]int64{}
	for {
		suffixes, more, err := s.scan(ctx, ix, after, skip+p.Limit-len(out.Connections))
		if err != nil {
			return nil, err
		}
		if skip > 0 && !rowFilter {
			// One index holds exactly the rows: skip entries unread.
			n := min(skip, len(suffixes))
			if n > 0 {
				after = suffixes[n-1]
			}
			suffixes, skip = suffixes[n:], skip-n
		}
		ids := make([]string, len(suffixes))
		for i, sfx := range suffixes {
			_, ids[i], _ = strings.Cut(sfx, ":")
		}
		conns, err := s.getConnections(ctx, ids)
		if err != nil {
			return nil, err
		}
		if err := s.appGenerations(ctx, conns, gens); err != nil {
			return nil, err
		}
		for i, c := range conns {
			after = suffixes[i]
			if c == nil || c.Status == StatusRevoked || c.AppGeneration < gens[c.ClientID] ||
				(f.ClientID != "" && c.ClientID != f.ClientID) {
				continue // gone since the index was read, or not this filter's
			}
			if skip > 0 {
				// The offset counts rows, as next_offset does.
				skip--
				continue
			}
			out.Connections = append(out.Connections, c)
		}
		if !more || len(suffixes) == 0 {
			return out, nil
		}
		if len(out.Connections) == p.Limit {
			out.Next = encodeCursor(after)
			return out, nil
		}
	}
}

// appGenerations reads the generation of each app of conns not yet in
// gens, in one pipeline.
func (s *Store) appGenerations(ctx context.Context, conns []*Connection, gens map[string]int64) error {
	var ids []string
	for _, c := range conns {
		if c == nil {
			continue
		}
		if _, ok := gens[c.ClientID]; !ok && !slices.Contains(ids, c.ClientID) {
			ids = append(ids, c.ClientID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	cmds := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGet(ctx, appKey(id), "gen")
		}
		return nil
	}); err != nil && err != redis.Nil {
		return fmt.Errorf("read app generations: %w", err)
	}
	for i, id := range ids {
		gens[id], _ = strconv.ParseInt(cmds[i].Val(), 10, 64)
	}
	return nil
}

// CountConnections returns how many live connections each app has under
// its current generation, from the shards' counters (keys.go, app-counts):
// one HMGET per shard for the whole page of apps, whatever the number of
// apps or connections. A connection that expired counts until the
// maintenance trims its entry (within a trimming pass or so).
func (s *Store) CountConnections(ctx context.Context, apps []*App) (map[string]int, error) {
	out := make(map[string]int, len(apps))
	if len(apps) == 0 {
		return out, nil
	}
	fields := make([]string, len(apps))
	for i, a := range apps {
		fields[i] = appGen(a.ClientID, a.Generation)
	}
	cmds := make([]*redis.SliceCmd, Shards)
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for n := range Shards {
			cmds[n] = p.HMGet(ctx, appCountsKey(n), fields...)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("count connections: %w", err)
	}
	for _, c := range cmds {
		for i, v := range c.Val() {
			s, _ := v.(string)
			n, _ := strconv.Atoi(s)
			out[apps[i].ClientID] += max(n, 0)
		}
	}
	return out, nil
}
