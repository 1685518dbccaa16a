// Package logbuf is a buffered writer for the server's log. Every request
// logs one JSON line; written straight to stderr, each line is a write
// system call on the request path. Gathered here and written every
// interval, a busy server pays one call per interval instead, and a log
// line reaches stderr at most one interval late.
package logbuf

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// limit is how many bytes wait at most: a Write that would take the
// buffer past it writes what waits first, so memory stays bounded however
// fast lines come and however slow the destination is.
const limit = 64 << 10

// Writer buffers writes to an io.Writer and writes them out every
// interval, when the buffer is full, and on Flush and Close. It is safe for
// concurrent use: the bytes of one Write are written whole, in the order
// of the Writes, never split across two writes to the destination nor
// mixed with another Write's.
//
// A failed write to the destination does not fail the Writes whose bytes
// it carried (they have already returned): it is counted, and the next
// Flush or Close reports it.
type Writer struct {
	dst io.Writer

	// out is held while writing to dst, so what is taken from buf is
	// written in the order it was taken; it guards spare and the failure
	// counts too. When both are held, out is taken first.
	out    sync.Mutex
	spare  []byte // the buffer written last, kept for reuse
	failed int    // writes to dst that failed since the last report
	lost   int    // bytes they did not write
	first  error  // the first of their errors

	// mu guards buf and closed; it is held only to append or swap, never
	// while writing to dst, so a slow destination blocks a Write only once
	// the buffer is full.
	mu     sync.Mutex
	buf    []byte
	closed bool

	stop chan struct{} // closed by Close, ends the flushing goroutine
	done chan struct{} // closed when that goroutine has returned
	once sync.Once
}

// New returns a Writer over dst that writes what it holds every interval
// (which must be positive), from a goroutine of its own that Close ends.
// Close it once nothing logs any more, or the last lines are lost.
func New(dst io.Writer, interval time.Duration) *Writer {
	w := &Writer{dst: dst, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run(interval)
	return w
}

func (w *Writer) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.out.Lock()
			w.flushLocked(false)
			w.out.Unlock()
		}
	}
}

// Write keeps a copy of p to write later and returns len(p), nil. After
// Close it writes p straight to the destination (a goroutine that outlived
// the server still gets its line out) and returns what that write returns.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.buf) > 0 && len(w.buf)+len(p) > limit {
		w.mu.Unlock()
		w.out.Lock()
		w.flushLocked(false)
		w.out.Unlock()
		w.mu.Lock()
	}
	if w.closed {
		w.mu.Unlock()
		w.out.Lock()
		defer w.out.Unlock()
		return w.dst.Write(p)
	}
	w.buf = append(w.buf, p...)
	w.mu.Unlock()
	return len(p), nil
}

// Flush writes what the buffer holds and reports the writes to the
// destination that failed since the last report (background ones
// included), or nil.
func (w *Writer) Flush() error {
	w.out.Lock()
	defer w.out.Unlock()
	w.flushLocked(false)
	return w.reportLocked()
}

// Close stops the flushing goroutine, writes what the buffer holds and
// reports failures as Flush does. Later Writes go straight to the
// destination; a second Close does nothing and returns nil.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.stop) })
	<-w.done
	w.out.Lock()
	defer w.out.Unlock()
	w.flushLocked(true)
	return w.reportLocked()
}

// flushLocked writes the buffer out, with out held; closing marks the
// Writer closed in the same step that takes the last buffer, so no Write
// lands in a buffer nobody will write.
func (w *Writer) flushLocked(closing bool) {
	w.mu.Lock()
	b := w.buf
	if closing {
		w.closed = true
		w.buf = nil
	} else {
		w.buf, w.spare = w.spare[:0], nil
	}
	w.mu.Unlock()
	if len(b) == 0 {
		w.spare = b
		return
	}
	n, err := w.dst.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.failed++
		w.lost += len(b) - max(n, 0)
		if w.first == nil {
			w.first = err
		}
	}
	// A buffer grown far past the limit by one huge line is not kept.
	if cap(b) <= 2*limit {
		w.spare = b[:0]
	}
}

// reportLocked returns the failures since the last report, once, with out
// held.
func (w *Writer) reportLocked() error {
	if w.failed == 0 {
		return nil
	}
	err := fmt.Errorf("logbuf: %d writes failed, %d bytes lost; the first: %w", w.failed, w.lost, w.first)
	w.failed, w.lost, w.first = 0, 0, nil
	return err
}
