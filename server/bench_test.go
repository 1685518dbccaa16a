package server

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkParseScopesDistinct parses a body-sized scope of distinct
// names: linear work, where a quadratic repeat check took ~0.7 s.
func BenchmarkParseScopesDistinct(b *testing.B) {
	var sb strings.Builder
	for i := 0; sb.Len() < maxBody-16; i++ {
		sb.WriteString("s" + strconv.Itoa(i) + " ")
	}
	in := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if len(parseScopes(in)) == 0 {
			b.Fatal("no scopes")
		}
	}
}
