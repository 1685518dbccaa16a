package logbuf

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkSlogJSON logs the server's request line (server/observe.go)
// through slog's JSON handler to a file, straight and through a Writer
// flushed every 100 ms as serve does; the buffered runs include the
// Close that writes the rest. writes/op counts the writes to the file,
// each one system call.
func BenchmarkSlogJSON(b *testing.B) {
	for _, c := range []struct {
		name     string
		parallel bool
		buffered bool
	}{
		{"unbuffered", false, false},
		{"buffered", false, true},
		{"unbuffered-parallel", true, false},
		{"buffered-parallel", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			f, err := os.CreateTemp(b.TempDir(), "log")
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			file := &counting{w: f}
			var dst io.Writer = file
			var w *Writer
			if c.buffered {
				w = New(file, 100*time.Millisecond)
				dst = w
			}
			log := slog.New(slog.NewJSONHandler(dst, nil))
			ctx := context.Background()
			line := func() {
				log.InfoContext(ctx, "request", "method", "POST", "route", "/oauth/token",
					"status", 200, "duration_ms", 3.141, "request_id", "0123456789abcdefghijkl")
			}
			b.ReportAllocs()
			b.ResetTimer()
			if c.parallel {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						line()
					}
				})
			} else {
				for b.Loop() {
					line()
				}
			}
			if w != nil {
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(file.writes.Load())/float64(b.N), "writes/op")
		})
	}
}

// counting counts the writes to w.
type counting struct {
	w      io.Writer
	writes atomic.Int64
}

func (c *counting) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.w.Write(p)
}
