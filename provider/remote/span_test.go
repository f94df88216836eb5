package remote

import (
	"context"
	"testing"
)

// TestSpansCostNothingUntraced: without a recording span in the context (tracing off, or
// a request not sampled), a call's spans allocate nothing: no name, no attributes.
func TestSpansCostNothingUntraced(t *testing.T) {
	e := &Engine{prefix: "duo"}
	r := &resource{name: "initiate"}
	ctx := context.Background()
	for name, start := range map[string]func(){
		"cel":    func() { e.celSpan(ctx, r, "outgoing") },
		"vendor": func() { e.vendorSpan(ctx, r, "POST", "api.duosecurity.com") },
	} {
		if n := testing.AllocsPerRun(100, start); n != 0 {
			t.Errorf("%s span without tracing: %.0f allocations", name, n)
		}
	}
}
