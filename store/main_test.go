package store

import (
	"testing"

	"github.com/enlace-oauth/enlace/store/redistest"
)

// TestMain stops the redis-server and the Redis Cluster that the tests
// share (redistest.ForEachBackend) once they have all run.
func TestMain(m *testing.M) { redistest.Main(m) }
