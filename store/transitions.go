package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Every state transition of a connection is one Lua file under lua/,
// loaded here. Go hands a script its arguments as one JSON object (ARGV[1])
// and reads its answer as one JSON object, so both sides name every value
// and nothing is decoded by position. Each file's header says which keys
// it touches, what it takes, what it answers and why it is shaped so.

//go:embed lua/*.lua
var luaFiles embed.FS

// script is one transition: its arguments A and its answer R are the JSON
// objects of the Lua file's header.
type script[A, R any] struct {
	name string
	s    *redis.Script
}

// newScript loads lua/<name>.lua, after lua/lib.lua when withLib (the
// connection scripts). The files are compiled into the binary, so a missing
// one is a build mistake, found by the first test that runs.
func newScript[A, R any](name string, withLib bool) script[A, R] {
	src, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(fmt.Sprintf("store: script %s: %v", name, err))
	}
	if withLib {
		lib, err := luaFiles.ReadFile("lua/lib.lua")
		if err != nil {
			panic(fmt.Sprintf("store: script lib: %v", err))
		}
		src = append(append(lib, '\n'), src...)
	}
	return script[A, R]{name: name, s: redis.NewScript(string(src))}
}

// run runs the script over keys, in one round trip (EVALSHA, or EVAL
// once after Redis lost its script cache).
func (sc script[A, R]) run(ctx context.Context, rdb redis.Scripter, keys []string, args A) (*R, error) {
	in, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("%s: encode arguments: %w", sc.name, err)
	}
	raw, err := sc.s.Run(ctx, rdb, keys, in).Text()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.name, err)
	}
	return sc.decode(raw)
}

func (sc script[A, R]) decode(raw string) (*R, error) {
	var out R
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("%s: decode answer: %w", sc.name, err)
	}
	return &out, nil
}

// Outcome is how a transition ended.
type Outcome string

// The outcomes a script may answer; each script's header says which.
const (
	// OutcomeOK: the transition happened.
	OutcomeOK Outcome = "ok"
	// OutcomeRetry: the call repeats a refresh that just succeeded, inside
	// its retry window; the answer is that refresh's, sealed.
	OutcomeRetry Outcome = "retry"
	// OutcomeReuse: a spent code or refresh token was presented again; the
	// script revoked its connection and refuses the call.
	OutcomeReuse Outcome = "reuse"
	// OutcomeRefused: the call breaks a rule; nothing changed.
	OutcomeRefused Outcome = "refused"
	// OutcomeAlready: the connection was revoked before; nothing changed.
	OutcomeAlready Outcome = "already"
	// OutcomeMissing: no connection matched; nothing changed.
	OutcomeMissing Outcome = "missing"
)

// UnmarshalText refuses an outcome the Go side does not know, so a script
// and its caller cannot drift apart silently.
func (o *Outcome) UnmarshalText(b []byte) error {
	switch v := Outcome(b); v {
	case OutcomeOK, OutcomeRetry, OutcomeReuse, OutcomeRefused, OutcomeAlready, OutcomeMissing:
		*o = v
		return nil
	}
	return fmt.Errorf("unknown outcome %q", b)
}

// RefusalCode is why a transition refused a grant, in the OAuth error
// vocabulary (RFC 6749 §5.2); the HTTP layer renders it per dialect.
type RefusalCode int

// The refusals the scripts give.
const (
	// RefusedGrant: the code or refresh token is unknown, expired, spent,
	// revoked, another client's, or its PKCE or redirect_uri check failed
	// (invalid_grant).
	RefusedGrant RefusalCode = iota + 1
	// RefusedScope: the requested scope exceeds the grant (invalid_scope).
	RefusedScope
)

// refusalCodes are the scripts' names for the refusals: the one place the
// Lua strings meet the Go constants.
var refusalCodes = map[string]RefusalCode{"invalid_grant": RefusedGrant, "invalid_scope": RefusedScope}

// UnmarshalText reads a script's refusal code.
func (c *RefusalCode) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*c = 0
		return nil
	}
	v, ok := refusalCodes[string(b)]
	if !ok {
		return fmt.Errorf("unknown refusal code %q", b)
	}
	*c = v
	return nil
}

// Refusal is a grant refused by a transition. Description is safe to show
// to the client.
type Refusal struct {
	Code        RefusalCode `json:"code"`
	Description string      `json:"description"`
}

// Error is the description, for logs.
func (r *Refusal) Error() string { return "refused: " + r.Description }

// AsRefusal reports whether err is a grant refusal and returns it.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// verdict is the part every script's answer has.
type verdict struct {
	Outcome     Outcome     `json:"outcome"`
	Code        RefusalCode `json:"code"`
	Description string      `json:"description"`
}

// Succeeded reports whether the transition happened.
func (v verdict) Succeeded() bool { return v.Outcome == OutcomeOK }

// check returns nil for the outcomes in want (which the caller handles,
// a refusal among them), the answer's refusal for a refusal or a reuse
// the caller does not handle, and an error for any other outcome (a
// script and its caller out of step).
func (v verdict) check(script string, want ...Outcome) error {
	switch {
	case slices.Contains(want, v.Outcome):
		return nil
	case v.Outcome == OutcomeRefused || v.Outcome == OutcomeReuse:
		return &Refusal{Code: v.Code, Description: v.Description}
	}
	return fmt.Errorf("%s: unexpected outcome %q", script, v.Outcome)
}

// Millis is a time in Unix milliseconds as the scripts see it: a decimal
// string in JSON, since Lua numbers print large integers in exponent form.
// MillisOf makes one.
type Millis int64

// MarshalJSON writes m as a decimal string.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(m), 10) + `"`), nil
}

// UnmarshalJSON reads a decimal string; "" is 0.
func (m *Millis) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("milliseconds: %w", err)
	}
	if s == "" {
		*m = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("milliseconds: %w", err)
	}
	*m = Millis(v)
	return nil
}

// Transitions are the connection scripts themselves, below the credential
// logic: they take digests and times, never credentials. The Store's
// methods mint, digest, seal and audit around them; enlace-bench's floor
// calls them with fixed arguments, so that an endpoint and its floor run
// the very same scripts.
type Transitions struct {
	rdb redis.UniversalClient
	// auditMax bounds each shard's audit stream.
	auditMax int64
}

// Transitions returns the store's transitions.
func (s *Store) Transitions() Transitions {
	return Transitions{rdb: s.rdb, auditMax: max(1000, s.auditMax/Shards)}
}

// jsonArgs encodes a script's arguments, for callers that pipeline
// scripts themselves.
func jsonArgs(a any) ([]byte, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode script arguments: %w", err)
	}
	return b, nil
}
