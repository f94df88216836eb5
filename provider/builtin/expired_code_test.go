package builtin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// A code that expired unanswered is dead, and answered TIMEOUT; the sweeper removes it an
// hour later. A new initiate before then withdraws only the live earlier codes: before,
// it canceled the dead one too, said "1 earlier code(s) canceled", turned the old
// transaction's TIMEOUT into CANCELED, and on PostgreSQL took the careful path of an
// initiate that withdraws a code.
func TestNewInitiateLeavesAnExpiredCodeAlone(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollSMS(t, "alice", "+15551230123")
		first := f.initiate(t, "alice", "smsotp", id).TransactionID
		f.clock.Advance(10 * time.Minute) // past the code's lifetime, within the sweeper's hour
		out := f.initiate(t, "alice", "smsotp", id)
		expect(t, "second initiate", out, provider.StatusPending, "code sent")
		if strings.Contains(out.Reason, "canceled") {
			t.Errorf("second initiate: %q; the earlier code had expired", out.Reason)
		}
		expect(t, "first result", f.result(t, "alice", "smsotp", id, first), provider.StatusTimeout, "")
		expect(t, "second code", f.validate(t, "alice", "smsotp", id, out.TransactionID, f.sms.last(t).Code), provider.StatusSuccess, "")
	})
}
