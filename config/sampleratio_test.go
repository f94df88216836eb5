package config

import (
	"strings"
	"testing"
)

// TestSampleRatioZeroRefused: tracing.sampleRatio is 0 < r ≤ 1 (README), and unset
// means 1. Written as 0, meant as "no new traces", it was taken for unset and every new
// trace was kept; it is now refused, in the file as from EMFA_TRACING_SAMPLERATIO.
func TestSampleRatioZeroRefused(t *testing.T) {
	base := minimalYAML + `tracing:
  endpoint: http://127.0.0.1:4318
`
	_, err := Parse([]byte(base+"  sampleRatio: 0\n"), "yaml", env(nil))
	if err == nil || !strings.Contains(err.Error(), "tracing.sampleRatio") {
		t.Errorf("sampleRatio: 0 in the file: got %v, want it refused", err)
	}
	_, err = Parse([]byte(base), "yaml", env(map[string]string{"EMFA_TRACING_SAMPLERATIO": "0"}))
	if err == nil || !strings.Contains(err.Error(), "EMFA_TRACING_SAMPLERATIO") {
		t.Errorf("EMFA_TRACING_SAMPLERATIO=0: got %v, want it refused", err)
	}
	// Unset is 1, and 1 or a share is fine.
	for _, extra := range []string{"", "  sampleRatio: 1\n", "  sampleRatio: 0.25\n"} {
		if _, err := Parse([]byte(base+extra), "yaml", env(nil)); err != nil {
			t.Errorf("%q: %v", extra, err)
		}
	}
}
