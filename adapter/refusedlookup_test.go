package adapter

import (
	"context"
	"net/url"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestRefusedLookupAuditsWebhookID: a lookup refused at the edge (a user name
// outside the rule) is the one lookup with an audit row, and the README keeps a call's
// X-Webhook-ID in the audit trail, the way an operator finds the call Verify's log names.
// That row had none, though the access log had it.
func TestRefusedLookupAuditsWebhookID(t *testing.T) {
	st := testdb.SQLite(t)
	h := newHarness(t, func(o *Options) { o.Providers[0].Audit = st })
	code, body, _ := h.do(t, "GET", "/v1/providers/acme/enrollments?username="+url.QueryEscape("bad\x01user"), "",
		"Authorization", "Basic dmVyaWZ5OnB3LXNlY3JldA==", "X-Webhook-ID", "wh-refused-1")
	if code != 200 || body != "[]\n" && body != "[]" {
		t.Fatalf("refused lookup: %d %q", code, body)
	}
	evs, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 10})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit rows: %+v %v; want one", evs, err)
	}
	if evs[0].WebhookID != "wh-refused-1" || evs[0].Resource != "enrollments" {
		t.Errorf("the refused lookup's audit row: %+v; want webhook_id wh-refused-1", evs[0])
	}
}
