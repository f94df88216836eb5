package telemetry

import (
	"testing"
	"time"
)

// BenchmarkValidateObservations is what a validate adds with metrics on: one contract
// counter, one latency observation (the adapter's and engine's hooks only count on
// failures, retries and sends).
func BenchmarkValidateObservations(b *testing.B) {
	m := NewMetrics("bench")
	for b.Loop() {
		m.Contract("emfa", "validate", "totp", "SUCCESS", 3*time.Millisecond)
	}
}
