package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
)

// answers lends the buffers JSON answers are encoded into.
type answers struct{ bufs sync.Pool }

// maxPooledAnswer is the largest buffer kept for reuse: an answer that
// big is rare, and keeping its buffer would pin its size for good.
const maxPooledAnswer = 64 << 10

// answerJSON writes status and v as JSON, byte for byte as c.JSON does,
// but encodes into a buffer kept for reuse, where json.Marshal (c.JSON)
// makes a new slice for every answer: under load that slice was a tenth
// of the bytes /api/d/info allocated.
func (s *Server) answerJSON(c *gin.Context, status int, v any) {
	buf, _ := s.answers.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer func() {
		if buf.Cap() <= maxPooledAnswer {
			buf.Reset()
			s.answers.bufs.Put(buf)
		}
	}()
	if se, ok := v.(selfEncoding); ok {
		if b, ok := se.appendJSON(buf.AvailableBuffer()); ok {
			// Written into the buffer's free space (a copy onto itself),
			// so that the buffer grows to the answers' size and is reused.
			buf.Write(b)
			s.writeAnswer(c, status, buf.Bytes())
			return
		}
	}
	// The answers passed here are plain structs: a failure is a
	// programming error, answered before a byte of the body was written.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		s.log.ErrorContext(c.Request.Context(), "encode answer", "route", c.FullPath(), "err", err)
		writeOAuth(c, apierror.New(apierror.ServerError, "internal error"))
		return
	}
	// Without the newline Encode ends with, as json.Marshal writes it.
	s.writeAnswer(c, status, bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}

func (s *Server) writeAnswer(c *gin.Context, status int, body []byte) {
	c.Writer.Header()["Content-Type"] = []string{apierror.JSONType}
	c.Status(status)
	_, _ = c.Writer.Write(body)
}

// selfEncoding is an answer that writes its own JSON, byte for byte what
// encoding/json writes for it, when its strings need no escaping; it
// reports false otherwise (and answerJSON uses encoding/json). The check
// answers are the busiest on the server, and reflection over their fields
// was the largest part of writing them.
type selfEncoding interface {
	appendJSON(b []byte) ([]byte, bool)
}

// object appends a JSON object field by field. A string value that is
// not plain (plainValue) spoils it: end reports false, and the caller
// lets encoding/json, which knows every escape, write the answer instead.
type object struct {
	b  []byte
	n  int
	ok bool
}

func newObject(b []byte) object { return object{b: append(b, '{'), ok: true} }

// key appends the next key, a constant of the answer's type (so plain).
func (o *object) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *object) str(k, v string) {
	if !plainValue(v) {
		o.ok = false
		return
	}
	o.key(k)
	o.b = append(o.b, '"')
	o.b = append(o.b, v...)
	o.b = append(o.b, '"')
}

func (o *object) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *object) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// open starts the object that is the value of k; close ends it.
func (o *object) open(k string) object {
	o.key(k)
	return newObject(o.b)
}

// close ends inner, opened by open, and takes back the bytes.
func (o *object) close(inner object) {
	o.raw(inner.end())
}

// raw takes b, which holds what was appended before and the value of the
// last key, and ok, false when that value could not be written.
func (o *object) raw(b []byte, ok bool) {
	o.b = b
	o.ok = o.ok && ok
}

func (o *object) end() ([]byte, bool) {
	return append(o.b, '}'), o.ok
}

// plainValue reports whether v is written in JSON as it is, by
// encoding/json's rules with HTML escaping (as gin's and answerJSON's
// encoder write): ASCII from the space on (DEL too), but for the quote,
// the backslash and <, > and &. Ids, scope names, URLs and times are; a merchant's name
// may not be.
func plainValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !plainByte[v[i]] {
			return false
		}
	}
	return true
}

// plainByte is plainValue's rule for each byte, looked up: a switch of
// comparisons per byte was a third of writing an answer. Never written
// after its initialisation.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = !strings.ContainsRune(`"\\<>&`, rune(c))
	}
	return t
}()
