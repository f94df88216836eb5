package provider_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/telemetry"
)

// BenchmarkEnrollments is the provider's side of the most frequent contract call, with
// the metrics a server keeps and no tracing (spans unsampled), as served.
func BenchmarkEnrollments(b *testing.B) {
	p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
		Engine: listingEngine{}, Observer: telemetry.NewMetrics("bench")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Enrollments(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}
