package provider

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/store"
)

// TestDecisionOneAllocation: the audit row a contract call readies for its deciding
// unit (every initiate, validate and result on an audited provider) is one allocation; a
// closure over the request made it two, the closure holding a copy of the whole request.
// The row it writes is the Provider's own, as before.
func TestDecisionOneAllocation(t *testing.T) {
	at := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	p := &Provider{CredentialPrefix: "acme", Audit: nopAuditor{}, Now: func() time.Time { return at }}
	req := Request{Capability: "push", ID: "f1", Username: "alice", RequestID: "r1", WebhookID: "w1", Passvalue: "123456"}
	d := p.decision(ResourceInitiate, req)
	out := Outcome{Status: StatusPending, Reason: "started"}
	if diff := cmp.Diff(p.event(ResourceInitiate, req, out), d.event(out)); diff != "" {
		t.Errorf("the decision's row (-want +got):\n%s", diff)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	if n := testing.AllocsPerRun(100, func() { keptDecision = p.decision(ResourceInitiate, req) }); n > 1 {
		t.Errorf("a decision allocates %v times, want 1", n)
	}
}

// keptDecision keeps each decision on the heap, as the context it goes into does.
var keptDecision *decision

type nopAuditor struct{}

func (nopAuditor) AppendAudit(context.Context, store.AuditEvent) error { return nil }
