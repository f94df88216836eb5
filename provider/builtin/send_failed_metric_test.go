package builtin_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// sends counts what an engine tells its observer of its sends, by sender.
type sends struct {
	mu                    sync.Mutex
	sent, refused, failed map[string]int
}

func newSends() *sends {
	return &sends{sent: map[string]int{}, refused: map[string]int{}, failed: map[string]int{}}
}

func (o *sends) count(m map[string]int, sender string) { o.mu.Lock(); m[sender]++; o.mu.Unlock() }
func (o *sends) CodeSent(s string)                     { o.count(o.sent, s) }
func (o *sends) SendRefused(s string)                  { o.count(o.refused, s) }
func (o *sends) SendFailed(s string)                   { o.count(o.failed, s) }
func (*sends) Lockout(string)                          {}
func (*sends) StoreError(string)                       {}

// TestFailedSendCounted: a send the sender fails (the vendor refused, was unreachable,
// timed out) is counted under its sender (emfa_code_sends_failed_total), as a sent one is:
// a dead SMS or mail vendor showed in no metric, only in each user's FAILED sign-in.
func TestFailedSendCounted(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		obs := newSends()
		f := newEngineFixture(t, st, func(c *engineConfig) { c.observer = obs })
		id := f.enrollSMS(t, "alice", "+15551230123")
		f.initiate(t, "alice", "smsotp", id)
		f.sms.fail(errors.New("connection refused"))
		if out := f.initiate(t, "alice", "smsotp", id); out.Status != provider.StatusFailed {
			t.Fatalf("a failed send: %+v", out)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if obs.sent["sms"] != 1 || obs.failed["sms"] != 1 {
			t.Errorf("sent %v, failed %v: want one of each, under sms", obs.sent, obs.failed)
		}
	})
}
