package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// never is an interval that does not come during a test: what reaches the
// destination then came from Write, Flush or Close.
const never = time.Hour

// wait is how long a test waits for something that should happen at once.
const wait = 10 * time.Second

// recorder keeps each write to it as one chunk and, when chunks is set,
// sends a copy of each there too.
type recorder struct {
	mu     sync.Mutex
	writes [][]byte
	chunks chan []byte
	// fail, while above zero, fails that many more writes (after
	// writing short bytes of them, with a nil error when short is set).
	fail  int
	short bool
}

var errBoom = errors.New("boom")

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := bytes.Clone(p)
	if r.chunks != nil {
		r.chunks <- c
	}
	if r.fail > 0 {
		r.fail--
		if r.short {
			return len(p) / 2, nil
		}
		return 0, errBoom
	}
	r.writes = append(r.writes, c)
	return len(p), nil
}

func (r *recorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return string(bytes.Join(r.writes, nil))
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.writes)
}

func next(t *testing.T, chunks <-chan []byte, what string) []byte {
	t.Helper()
	select {
	case c := <-chunks:
		return c
	case <-time.After(wait):
		t.Fatalf("%s: nothing was written within %v", what, wait)
		return nil
	}
}

func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
		t.Fatalf("Write(%d bytes) = %d, %v", len(s), n, err)
	}
}

// TestConcurrentWriters: lines written at once from many goroutines, with
// flushes by interval and by size going on, all arrive, whole, each
// goroutine's in its order, and every write to the destination ends on a
// line's end.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	var dst recorder
	w := New(&dst, time.Millisecond)
	const writers, lines = 16, 2000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range lines {
				// Lengths vary, so lines straddle the size limit.
				write(t, w, fmt.Sprintf("g=%d i=%d %s.\n", g, i, strings.Repeat("x", (g*31+i*7)%300)))
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range dst.writes {
		if len(c) == 0 || c[len(c)-1] != '\n' {
			t.Fatalf("write %d to the destination ends inside a line: …%q", i, c[max(0, len(c)-40):])
		}
	}
	got := strings.Split(strings.TrimSuffix(dst.all(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines arrived, want %d", len(got), writers*lines)
	}
	nextOf := make([]int, writers)
	for _, l := range got {
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(l, "g=%d i=%d %s", &g, &i, &pad); err != nil || g < 0 || g >= writers {
			t.Fatalf("mangled line %q: %v", l, err)
		}
		if want := strings.Repeat("x", (g*31+i*7)%300) + "."; pad != want || i != nextOf[g] {
			t.Fatalf("line %q: want i=%d with %d x", l, nextOf[g], len(want)-1)
		}
		nextOf[g]++
	}
	t.Logf("%d lines in %d writes to the destination", len(got), len(dst.writes))
}

// TestCloseFlushes: what waits is written by Close, and a Write after
// Close goes straight through.
func TestCloseFlushes(t *testing.T) {
	t.Parallel()
	var dst recorder
	w := New(&dst, never)
	write(t, w, "one\n")
	write(t, w, "two\n")
	if n := dst.count(); n != 0 {
		t.Fatalf("%d writes before Close, want them buffered", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := dst.all(); got != "one\ntwo\n" || dst.count() != 1 {
		t.Fatalf("after Close, %d writes of %q", dst.count(), got)
	}
	write(t, w, "late\n")
	if got := dst.all(); got != "one\ntwo\nlate\n" {
		t.Fatalf("a Write after Close: %q", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestIntervalFlush: a line is written by the interval, with no Flush or
// Close.
func TestIntervalFlush(t *testing.T) {
	t.Parallel()
	dst := &recorder{chunks: make(chan []byte, 4)}
	w := New(dst, 10*time.Millisecond)
	defer w.Close()
	start := time.Now()
	write(t, w, "first\n")
	write(t, w, "second\n")
	if got := string(next(t, dst.chunks, "the interval")); got != "first\nsecond\n" {
		t.Fatalf("the interval wrote %q", got)
	}
	t.Logf("written %v after the first Write", time.Since(start))
	write(t, w, "third\n")
	if got := string(next(t, dst.chunks, "the next interval")); got != "third\n" {
		t.Fatalf("the next interval wrote %q", got)
	}
}

// TestSizeFlush: the Write that would take the buffer past the limit
// first writes what waits, so no more than the limit is held; one line
// longer than the limit waits alone.
func TestSizeFlush(t *testing.T) {
	t.Parallel()
	dst := &recorder{chunks: make(chan []byte, 4)}
	w := New(dst, never)
	defer w.Close()
	line := strings.Repeat("y", 1023) + "\n"
	for range limit / len(line) {
		write(t, w, line)
	}
	if n := dst.count(); n != 0 {
		t.Fatalf("%d writes with the buffer exactly full, want none", n)
	}
	write(t, w, "over\n")
	// Synchronous: the chunk was sent before Write returned.
	if c := next(t, dst.chunks, "the size bound"); len(c) != limit || !bytes.Equal(c[:len(line)], []byte(line)) {
		t.Fatalf("the size bound wrote %d bytes, want the %d that were full", len(c), limit)
	}
	huge := strings.Repeat("z", 2*limit) + "\n"
	write(t, w, huge) // "over\n" goes first
	if c := next(t, dst.chunks, "before a huge line"); string(c) != "over\n" {
		t.Fatalf("before a huge line, %q was written", c)
	}
	write(t, w, "after\n")
	if c := next(t, dst.chunks, "the huge line"); string(c) != huge {
		t.Fatalf("the huge line was written as %d bytes", len(c))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if c := next(t, dst.chunks, "Flush"); string(c) != "after\n" {
		t.Fatalf("Flush wrote %q", c)
	}
}

// TestErrorsReported: failed writes to the destination, from Flush or
// the interval, are reported once by the next Flush or Close, with what
// the destination said.
func TestErrorsReported(t *testing.T) {
	t.Parallel()
	t.Run("flush", func(t *testing.T) {
		t.Parallel()
		dst := &recorder{fail: 1}
		w := New(dst, never)
		defer w.Close()
		write(t, w, "lost\n")
		err := w.Flush()
		if !errors.Is(err, errBoom) || !strings.Contains(err.Error(), "1 writes failed, 5 bytes lost") {
			t.Fatalf("Flush after a failed write: %v", err)
		}
		write(t, w, "kept\n")
		if err := w.Flush(); err != nil {
			t.Fatalf("the failure was reported twice: %v", err)
		}
		if got := dst.all(); got != "kept\n" {
			t.Fatalf("the destination got %q", got)
		}
	})
	t.Run("interval", func(t *testing.T) {
		t.Parallel()
		dst := &recorder{fail: 1, chunks: make(chan []byte, 4)}
		w := New(dst, time.Millisecond)
		write(t, w, "lost\n")
		next(t, dst.chunks, "the interval") // the failed attempt
		write(t, w, "kept\n")
		err := w.Close()
		if !errors.Is(err, errBoom) {
			t.Fatalf("Close after a failed background write: %v", err)
		}
		if got := dst.all(); got != "kept\n" {
			t.Fatalf("the destination got %q", got)
		}
	})
	t.Run("short", func(t *testing.T) {
		t.Parallel()
		dst := &recorder{fail: 1, short: true}
		w := New(dst, never)
		write(t, w, "0123456789\n")
		if err := w.Close(); !errors.Is(err, io.ErrShortWrite) || !strings.Contains(err.Error(), "6 bytes lost") {
			t.Fatalf("Close after a short write: %v", err)
		}
	})
}
