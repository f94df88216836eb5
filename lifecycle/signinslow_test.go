package lifecycle_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// TestSignInSlowGatewayStartsOnce: the sign-in form posted twice reaches two
// replicas; the first's start waits on a slow gateway for longer than SignInAgain. The
// start's record was kept SignInAgain from its claim, and a record past that is claimed
// anew though its owner still runs and renews it: the second post started the sign-in
// again (a second code or push) while the first still ran. It must wait for the first's
// answer instead, and the two answer the one sign-in. Fake time (synctest): the record's
// clock, the claim's renewals and the second post's waiting all run on it.
func TestSignInSlowGatewayStartsOnce(t *testing.T) {
	for _, c := range []struct {
		name     string
		deadline time.Duration // the request's (server.requestTimeout); 0: none
	}{{"a minute's requestTimeout", time.Minute}, {"no deadline", 0}} {
		t.Run(c.name, func(t *testing.T) { signInSlowGateway(t, c.deadline) })
	}
}

func signInSlowGateway(t *testing.T, deadline time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		st := testdb.SQLite(t)
		open := func() *lifecycle.SelfService {
			m, err := lifecycle.New(lifecycle.Options{Store: st, Now: time.Now})
			if err != nil {
				t.Fatal(err)
			}
			return replicaSelfService(t, m)
		}
		ssa, ssb := open(), open()
		ctx := t.Context()
		if deadline > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, deadline)
			defer cancel()
		}
		var running, starts atomic.Int32
		slow := lifecycle.SignInAgain + 15*time.Second
		first := signInAside(ctx, ssa, func(context.Context) (string, error) {
			starts.Add(1)
			running.Add(1)
			defer running.Add(-1)
			time.Sleep(slow) // the gateway's answer
			return "a", nil
		})
		time.Sleep(lifecycle.SignInAgain + 5*time.Second) // the first still waits on its gateway
		var overlapped bool
		c, again, err := ssb.StartSignInOnce(ctx, "form", "alice", lifecycle.MethodPush, func(context.Context) (string, error) {
			starts.Add(1)
			overlapped = running.Load() > 0
			return "b", nil
		})
		a := <-first
		time.Sleep(2 * provider.RenewInterval) // the claims' renewals end
		t.Logf("first: %q again %v err %v; second: %q again %v err %v; starts %d", a.cookie, a.again, a.err, c, again, err, starts.Load())
		if overlapped {
			t.Errorf("the second post started the sign-in while the first's start still ran")
		}
		if n := starts.Load(); n != 1 {
			t.Errorf("%d starts of one form's sign-in; want 1", n)
		}
		if a.err != nil || a.cookie != "a" || err != nil || c != "a" || !again {
			t.Errorf("answers: first %q %v, second %q again %v %v; want both the first's sign-in, the second again", a.cookie, a.err, c, again, err)
		}
	})
}
