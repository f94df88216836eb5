package lifecycle_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
)

// TestDisabledUserIsNotSignedIn: a push approved on the phone, then the user
// disabled (left the company, the device reported stolen) before the page that asked
// for the approval continued. The challenge answers as it ended, approved, and the page
// stored a signed-in session for the disabled user and recorded "signin SUCCESS": the
// trail said a disabled user signed in. (The session was refused at its first use; the
// record stayed.) A disabled user is signed in by nothing: the sign-in fails, recorded so.
func TestDisabledUserIsNotSignedIn(t *testing.T) {
	ctx := context.Background()
	st := testdb.SQLite(t)
	m, clk := newManager(t, st)
	addAlice(t, m)
	ss := selfService(t, m, "totp", "push")
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	l, err := ss.IssueLink(ctx, "test", "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	device := pushDevice(t, ss, devices, l.URL[strings.LastIndex(l.URL, "/")+1:])
	anon, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodPush); err != nil || anon.State.Tx == "" {
		t.Fatalf("start: tx %q, %v", anon.State.Tx, err)
	}
	number := anon.State.Number
	if got, err := devices.Answer(ctx, device, anon.State.Tx, provider.Approve, &number); err != nil || got != provider.StatusSuccess {
		t.Fatalf("approve: %s %v", got, err)
	}
	if _, err := m.SetUserState(ctx, "test", "alice", true); err != nil {
		t.Fatal(err)
	}
	state, next, err := ss.FinishPushSignIn(ctx, &anon)
	if err == nil || next.Cookie != "" {
		t.Errorf("a push approved before alice was disabled, continued after: %q, session %t, %v; want refused", state, next.Cookie != "", err)
	}
	for _, ev := range auditOf(t, m, lifecycle.AdminResource(lifecycle.ActionSelfServiceSignIn)).Events {
		if ev.Outcome == "SUCCESS" {
			t.Errorf("the trail says disabled alice signed in: %+v", ev)
		}
	}
}
