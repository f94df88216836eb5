package lifecycle_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// heldLaters keeps the jobs it is given until the test runs them.
type heldLaters struct {
	mu   sync.Mutex
	jobs []func(context.Context)
}

func (l *heldLaters) Run(job func(context.Context)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.jobs = append(l.jobs, job)
}

func (l *heldLaters) taken() []func(context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	jobs := l.jobs
	l.jobs = nil
	return jobs
}

// TestPushSignInWakesTheDeviceLater: a push sign-in on the page, under the
// page's Laters, answers while the push service still holds the device's notification:
// the challenge is started (the number to type, the transaction) before the answer, the
// notification and the start's record after it. Before, the page waited for the push
// service's round trip for a user with a device, and not for a name no one has.
func TestPushSignInWakesTheDeviceLater(t *testing.T) {
	ctx := context.Background()
	held, release := make(chan struct{}, 4), make(chan struct{})
	var mu sync.Mutex
	woken := 0
	push := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		held <- struct{}{}
		<-release
		mu.Lock()
		woken++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer push.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	st := testdb.SQLite(t)
	clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now, Capabilities: []string{"totp", "push"},
		Config: map[string]any{"push": map[string]any{"numberMatching": true, "notifier": map[string]any{"url": push.URL}}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, Now: clk.Now,
		Capabilities: map[string][]string{"emfa": {"totp", "push"}}})
	if err != nil {
		t.Fatal(err)
	}
	addAlice(t, m)
	ss := selfService(t, m, "totp", "push")
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	pushDevice(t, ss, devices, linkToken(t, ss))

	laters := &heldLaters{}
	anon, err := ss.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.StartSignIn(lifecycle.WithLaters(ctx, laters), &anon, "alice", lifecycle.MethodPush); err != nil || anon.State.Tx == "" {
		t.Fatalf("start: tx %q, %v", anon.State.Tx, err)
	}
	// Answered, with the number and the challenge, before the push service heard of it:
	// the notification is the Laters' job, which has not run.
	jobs := laters.taken()
	if len(jobs) != 1 || len(held) != 0 || anon.State.Number == 0 {
		t.Fatalf("the start answered with %d jobs left to the Laters, %d notifications sent, number %d; want 1, none, a number",
			len(jobs), len(held), anon.State.Number)
	}
	done := make(chan struct{})
	go func() { defer close(done); jobs[0](ctx) }()
	testwait.Recv(t, "the device's notification at the push service", held)
	close(release)
	testwait.Recv(t, "the notification's job", done)
	mu.Lock()
	if woken != 1 {
		t.Errorf("%d notifications through, want 1", woken)
	}
	mu.Unlock()
	evs, err := st.ListAudit(ctx, store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool {
		return strings.HasSuffix(e.Resource, "selfservice.signin.start") && e.Outcome == "PENDING"
	}) {
		t.Errorf("no record of the start: %+v", evs)
	}
}
