package config

import (
	"strings"
	"testing"
)

// server.idempotency.ttl takes no less than twice requestTimeout and the write grace
// (MinIdempotencyTTL): an answer recorded at the latest must outlive Verify's retry of it.
func TestIdempotencyTTLMinimum(t *testing.T) {
	for _, tc := range []struct {
		ttl     string
		refused bool
	}{
		{"19999ms", true}, // 2 × 10 s, the minimum before
		{"21999ms", true},
		{"22s", false},
	} {
		y := strings.Replace(minimalYAML, "server:\n", "server:\n  requestTimeout: 10s\n  idempotency: {ttl: "+tc.ttl+"}\n", 1)
		_, err := Parse([]byte(y), "yaml", env(nil))
		if got := err != nil && strings.Contains(err.Error(), "server.idempotency.ttl"); got != tc.refused {
			t.Errorf("ttl %s beside requestTimeout 10s: %v, want refused %v", tc.ttl, err, tc.refused)
		}
	}
}
