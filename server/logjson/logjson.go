// Package logjson is the server's log handler: it writes the lines
// slog.JSONHandler writes, byte for byte, and writes the ones the server
// logs on every request in half the time, without an allocation.
//
// Every request logs one line (its method, route, status, duration and
// what the handler annotated), and slog.JSONHandler took 1.5 µs to write
// it (BenchmarkHandler), a visible share of a token check's CPU (issue
// 13): it walks the record through a general state machine, formats the
// duration, a float, through encoding/json and locks around the write. A record whose attributes are
// all of the plain kinds (strings, integers, finite floats, booleans,
// durations, times in years 0–9999) is written here directly; any other
// record (a group, an error or other value, a LogValuer), and any handler
// derived with WithAttrs or WithGroup, is written by slog.JSONHandler
// itself, so the output never depends on which of the two wrote a line.
// FuzzHandler holds the two to the same bytes.
package logjson

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler is a slog.Handler writing JSON lines to an io.Writer.
type Handler struct {
	w     io.Writer
	level slog.Leveler
	// json writes the records this handler does not, and the handlers
	// derived from it.
	json slog.Handler
	// plain is false when the options ask for what only slog.JSONHandler
	// does (a source position, attributes replaced).
	plain bool
	bufs  *sync.Pool
}

// maxPooled is the largest line buffer kept for reuse.
const maxPooled = 16 << 10

// New returns a Handler writing to w with opts as slog.NewJSONHandler
// takes them (nil for the defaults: level Info). Each line is one Write;
// w must be safe for concurrent use (a logbuf.Writer, an *os.File), as
// lines are written without a lock of this handler's own.
func New(w io.Writer, opts *slog.HandlerOptions) *Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	var level slog.Leveler = slog.LevelInfo
	if opts.Level != nil {
		level = opts.Level
	}
	return &Handler{
		w: w, level: level,
		json:  slog.NewJSONHandler(w, opts),
		plain: !opts.AddSource && opts.ReplaceAttr == nil,
		bufs:  &sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }},
	}
}

// Enabled reports whether level is at or above the handler's.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// WithAttrs returns slog.JSONHandler's handler with attrs: derived loggers
// are not on the request path.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.json.WithAttrs(attrs) }

// WithGroup returns slog.JSONHandler's handler with the group.
func (h *Handler) WithGroup(name string) slog.Handler { return h.json.WithGroup(name) }

// Handle writes r as one JSON line.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.plain {
		return h.json.Handle(ctx, r)
	}
	bp := h.bufs.Get().(*[]byte)
	b, ok := appendRecord((*bp)[:0], r)
	var err error
	if ok {
		_, err = h.w.Write(b)
	} else {
		err = h.json.Handle(ctx, r)
	}
	if cap(b) <= maxPooled {
		*bp = b[:0]
		h.bufs.Put(bp)
	}
	return err
}

// appendRecord appends r's line, or reports false when r holds anything
// but plain attributes.
func appendRecord(b []byte, r slog.Record) ([]byte, bool) {
	b = append(b, '{')
	if !r.Time.IsZero() {
		if !plainTime(r.Time) {
			return b, false
		}
		b = append(b, `"time":"`...)
		b = r.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, ',')
		b = appendString(b, a.Key)
		b = append(b, ':')
		b, ok = appendValue(b, a.Value)
		return ok
	})
	if !ok {
		return b, false
	}
	return append(b, "}\n"...), true
}

// appendValue appends v as slog.JSONHandler writes it, or reports false
// for a kind it does not write here.
func appendValue(b []byte, v slog.Value) ([]byte, bool) {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String()), true
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10), true
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10), true
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool()), true
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10), true
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			// slog.JSONHandler writes its error in their place.
			return b, false
		}
		return appendFloat(b, f), true
	case slog.KindTime:
		t := v.Time()
		if !plainTime(t) {
			return b, false
		}
		b = append(b, '"')
		b = t.AppendFormat(b, time.RFC3339Nano)
		return append(b, '"'), true
	}
	return b, false
}

// plainTime reports whether t's year has the four digits RFC 3339 allows
// (slog.JSONHandler writes an error for the others).
func plainTime(t time.Time) bool {
	y := t.Year()
	return y >= 0 && y < 10000
}

// appendFloat writes f as encoding/json does (which is what
// slog.JSONHandler calls for floats): the shortest decimal that reads
// back as f, in exponent form only below 1e-6 or from 1e21, with the
// exponent's leading zero dropped.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 is written e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString writes s quoted, escaped as slog.JSONHandler escapes it:
// quote, backslash and control characters, invalid UTF-8 as U+FFFD, and
// U+2028 and U+2029; not <, > and &, which it leaves as they are.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	// Nearly every string needs no escape: find the first byte that may.
	i := 0
	for i < len(s) && plainByte[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// plainByte is set for the bytes a JSON string holds as they are: ASCII
// from the space on, but for quote and backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
