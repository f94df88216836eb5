package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// hookSender counts the codes it sends and runs hook, once, inside the first send.
type hookSender struct {
	sent *atomic.Int64
	hook func()
}

func (hookSender) Kind() string                 { return "null" }
func (hookSender) Serves(delivery.Channel) bool { return true }
func (h *hookSender) Send(context.Context, delivery.Message) error {
	h.sent.Add(1)
	if f := h.hook; f != nil {
		h.hook = nil
		f()
	}
	return nil
}

// TestSetUpPostedTwiceOnTwoReplicas: the set-up form posted twice (a double click)
// reaches two replicas on one store; the second arrives while the first still waits on
// its sender, its session not yet saved.
func TestSetUpPostedTwiceOnTwoReplicas(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		var sent atomic.Int64
		sa, sb := &hookSender{sent: &sent}, &hookSender{sent: &sent}
		ma, _ := newManagerSending(t, st, sa)
		mb, _ := newManagerSending(t, st, sb)
		addAlice(t, ma)
		ssa, ssb := selfService(t, ma, "smsotp"), selfService(t, mb, "smsotp")
		token := linkToken(t, ssa)
		sessA, err := ssa.OpenLink(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		var errB error
		var enB lifecycle.Enrolled
		sa.hook = func() {
			sessB, err := ssb.Session(ctx, sessA.Cookie)
			if err != nil {
				errB = err
				return
			}
			if !ssb.SamePending(ctx, sessB, "smsotp", "+15550000001") {
				enB, errB = ssb.Enroll(ctx, &sessB, "smsotp", "+15550000001")
			}
		}
		enA, errA := ssa.Enroll(ctx, &sessA, "smsotp", "+15550000001")
		if n := sent.Load(); n != 1 || errA != nil || errB != nil {
			t.Fatalf("one set-up posted twice, to two replicas, sent %d codes (first: %v, second: %v); want 1, no error", n, errA, errB)
		}
		if enA.Factor.ID != enB.Factor.ID {
			t.Errorf("the second post shows factor %q, the first started %q; want the same", enB.Factor.ID, enA.Factor.ID)
		}
		// The page after either answer shows the one set-up pending.
		sess, err := ssb.Session(ctx, sessA.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if f, err := ssb.Pending(ctx, sess); err != nil || f.ID != enA.Factor.ID {
			t.Errorf("pending after both: %+v %v; want %s", f, err, enA.Factor.ID)
		}
		// Another session (the link opened in another browser) still replaces it.
		other, err := ssb.OpenLink(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		if en, err := ssb.Enroll(ctx, &other, "smsotp", "+15550000001"); err != nil || en.Factor.ID == enA.Factor.ID || sent.Load() != 2 {
			t.Errorf("another session's set-up: %+v %v, %d codes sent; want a new factor, a second code", en.Factor, err, sent.Load())
		}
	})
}
