package server

import (
	"bytes"
	"encoding/json"
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
	// The answers passed here are plain structs: a failure is a
	// programming error, answered before a byte of the body was written.
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		s.log.ErrorContext(c.Request.Context(), "encode answer", "route", c.FullPath(), "err", err)
		writeOAuth(c, apierror.New(apierror.ServerError, "internal error"))
		return
	}
	c.Writer.Header()["Content-Type"] = []string{apierror.JSONType}
	c.Status(status)
	// Without the newline Encode ends with, as json.Marshal writes it.
	_, _ = c.Writer.Write(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}))
}
