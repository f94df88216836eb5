package config

import (
	"strings"
	"testing"
)

// TestSampleRatioNaNRefused: tracing.sampleRatio: .nan (or
// EMFA_TRACING_SAMPLERATIO=NaN) is refused at its key: NaN failed neither bound of the
// range check and reached the sampler, which keeps every trace or none depending on how
// the machine converts NaN to an integer.
func TestSampleRatioNaNRefused(t *testing.T) {
	const tracing = "tracing: {endpoint: 'http://127.0.0.1:4318'}\n"
	for name, tc := range map[string]struct {
		yaml string
		env  map[string]string
	}{
		"file":         {minimalYAML + "tracing: {endpoint: 'http://127.0.0.1:4318', sampleRatio: .nan}\n", nil},
		"file, quoted": {minimalYAML + "tracing: {endpoint: 'http://127.0.0.1:4318', sampleRatio: 'NaN'}\n", nil},
		"environment":  {minimalYAML + tracing, map[string]string{"EMFA_TRACING_SAMPLERATIO": "NaN"}},
		"infinity":     {minimalYAML + tracing, map[string]string{"EMFA_TRACING_SAMPLERATIO": "+Inf"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), "yaml", env(tc.env))
			if err == nil || !strings.Contains(err.Error(), "tracing.sampleRatio: ") {
				t.Errorf("got %v, want a refusal of tracing.sampleRatio", err)
			}
		})
	}
	cfg, err := Parse([]byte(minimalYAML+tracing), "yaml", env(map[string]string{"EMFA_TRACING_SAMPLERATIO": "0.25"}))
	if err != nil || cfg.Tracing.SampleRatio != 0.25 {
		t.Errorf("0.25: %v %v", cfg, err)
	}
}
