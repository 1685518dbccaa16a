package logjson

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// both writes r through a Handler and through slog.JSONHandler, with the
// same options, and returns the two outputs.
func both(t testing.TB, opts *slog.HandlerOptions, r slog.Record) (got, want string) {
	t.Helper()
	var g, w bytes.Buffer
	if err := New(&g, opts).Handle(context.Background(), r); err != nil {
		t.Fatalf("logjson: %v", err)
	}
	if err := slog.NewJSONHandler(&w, opts).Handle(context.Background(), r); err != nil {
		t.Fatalf("slog: %v", err)
	}
	return g.String(), w.String()
}

func record(msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(time.Date(2026, 12, 8, 1, 2, 3, 456789000, time.UTC), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

// TestSameLines: the handler's lines are slog.JSONHandler's, for the
// records it writes itself and for those it leaves to slog.
func TestSameLines(t *testing.T) {
	zone := time.FixedZone("x", -3*3600-1800)
	cases := map[string]slog.Record{
		"access line": record("request", slog.String("method", "POST"), slog.String("route", "/oauth/token"),
			slog.Int("status", 200), slog.Float64("duration_ms", 1.234), slog.String("grant", "authorization_code"),
			slog.String("request_id", "0123456789abcdef")),
		"escapes":       record("a \"quoted\"\n\tline\\ <b>&amp;", slog.String("k\x01\x7f", "\u2028\u2029 \xff\xfe é 日本")),
		"no attributes": record(""),
		"kinds": record("kinds", slog.Int64("i", math.MinInt64), slog.Uint64("u", math.MaxUint64), slog.Bool("t", true),
			slog.Bool("f", false), slog.Duration("d", -1500*time.Millisecond), slog.Time("at", time.Date(1, 2, 3, 4, 5, 6, 7, zone)),
			slog.String("", "empty key")),
		"floats": record("floats", slog.Float64("zero", 0), slog.Float64("negzero", math.Copysign(0, -1)),
			slog.Float64("tiny", 1e-7), slog.Float64("small", 0.000001), slog.Float64("big", 1e21), slog.Float64("under", 999999999999999999999.0),
			slog.Float64("max", math.MaxFloat64), slog.Float64("min", math.SmallestNonzeroFloat64), slog.Float64("neg", -2.5e-10)),
		"levels": func() slog.Record {
			r := slog.NewRecord(time.Date(2026, 1, 1, 0, 0, 0, 0, zone), slog.LevelWarn+2, "odd level", 0)
			return r
		}(),
		"no time": slog.NewRecord(time.Time{}, slog.LevelError, "no time", 0),
		// Left to slog.JSONHandler:
		"group":     record("g", slog.Group("req", slog.String("a", "b")), slog.Group("", slog.Int("inline", 1))),
		"error":     record("e", slog.Any("err", errors.New("boom"))),
		"any":       record("a", slog.Any("v", map[string]int{"b": 2, "a": 1}), slog.Any("nil", nil)),
		"empty":     record("x", slog.Attr{}, slog.Int("after", 1)),
		"nan":       record("n", slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(-1))),
		"far years": record("y", slog.Time("later", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))),
		"valuer":    record("v", slog.Any("lv", valuer{})),
		"far time":  slog.NewRecord(time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "bc", 0),
	}
	for name, r := range cases {
		if got, want := both(t, nil, r); got != want {
			t.Errorf("%s:\n got %s\nwant %s", name, got, want)
		}
	}
	// With options only slog.JSONHandler honours, it writes every line.
	opts := &slog.HandlerOptions{AddSource: true, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "secret" {
			a.Value = slog.StringValue("redacted")
		}
		return a
	}}
	if got, want := both(t, opts, record("r", slog.String("secret", "x"))); got != want || !strings.Contains(got, "redacted") {
		t.Errorf("with ReplaceAttr:\n got %s\nwant %s", got, want)
	}
}

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// TestLevelAndDerived: the level is the option's, and derived handlers
// write what slog.JSONHandler's would.
func TestLevelAndDerived(t *testing.T) {
	var lv slog.LevelVar
	lv.Set(slog.LevelWarn)
	var buf bytes.Buffer
	h := New(&buf, &slog.HandlerOptions{Level: &lv})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled does not follow the level option")
	}
	if New(&buf, nil).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("the default level lets Debug through")
	}
	var want bytes.Buffer
	got := slog.New(New(&buf, nil)).With("app", "a1").WithGroup("g")
	ref := slog.New(slog.NewJSONHandler(&want, nil)).With("app", "a1").WithGroup("g")
	r := record("derived", slog.Int("n", 1))
	_ = got.Handler().Handle(context.Background(), r)
	_ = ref.Handler().Handle(context.Background(), r)
	if buf.String() != want.String() {
		t.Errorf("derived:\n got %s\nwant %s", buf.String(), want.String())
	}
}

// lines is a concurrency-safe writer that keeps each Write apart.
type lines struct {
	mu  sync.Mutex
	got []string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, string(p))
	return len(p), nil
}

// TestOneWritePerLine: each record is one Write of one whole line, also
// when lines are logged concurrently and their buffers reused.
func TestOneWritePerLine(t *testing.T) {
	var w lines
	log := slog.New(New(&w, nil))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				log.Info("line", "g", g, "i", i, "pad", strings.Repeat("x", i))
			}
		})
	}
	wg.Wait()
	if len(w.got) != 1600 {
		t.Fatalf("%d writes for 1600 lines", len(w.got))
	}
	for _, l := range w.got {
		if strings.Count(l, "\n") != 1 || !strings.HasSuffix(l, "}\n") || !strings.HasPrefix(l, `{"time":"`) {
			t.Fatalf("a write is not one line: %q", l)
		}
	}
}

// FuzzHandler holds the handler's lines to slog.JSONHandler's for any
// message, keys, values and kinds.
func FuzzHandler(f *testing.F) {
	f.Add("request", "route", "/oauth/token", int64(200), 1.25, uint8(0), int64(1765155723000000000), int64(0))
	f.Add("a\"b\\c\n", "k\u2028", "\xff\x00<&>", int64(-1), 1e-7, uint8(3), int64(0), int64(4))
	f.Add("", "", "", int64(0), math.Inf(1), uint8(7), int64(-62135596800000000000/10), int64(-8))
	f.Fuzz(func(t *testing.T, msg, key, s string, i int64, fl float64, kinds uint8, unixNano, level int64) {
		at := time.Unix(0, unixNano).In(time.FixedZone("z", int(i%50400)))
		values := []slog.Value{
			slog.StringValue(s), slog.Int64Value(i), slog.Uint64Value(uint64(i)), slog.Float64Value(fl),
			slog.BoolValue(i%2 == 0), slog.DurationValue(time.Duration(i)), slog.TimeValue(at),
			slog.GroupValue(slog.String(s, key)), slog.AnyValue(errors.New(s)),
		}
		r := slog.NewRecord(at, slog.Level(level%16), msg, 0)
		// Up to eight attributes (past the five a record holds inline),
		// of kinds chosen by the bits of kinds.
		for n := range 1 + int(kinds%8) {
			v := values[(int(kinds)>>n+n)%len(values)]
			r.AddAttrs(slog.Attr{Key: key + strings.Repeat("k", n), Value: v})
		}
		if got, want := both(t, nil, r); got != want {
			t.Fatalf("\n got %q\nwant %q", got, want)
		}
	})
}

// BenchmarkHandler compares the access line's cost through the handler
// and through slog.JSONHandler.
func BenchmarkHandler(b *testing.B) {
	for _, c := range []struct {
		name string
		h    slog.Handler
	}{{"logjson", New(discard{}, nil)}, {"slog", slog.NewJSONHandler(discard{}, nil)}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("method", "POST"), slog.String("route", "/oauth/introspect"),
					slog.Int("status", 200), slog.Float64("duration_ms", 1.234), slog.String("request_id", "0123456789abcdefghijkl"))
				_ = c.h.Handle(ctx, r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
