package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

func TestPushLifecycle(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		alice := f.register(t, "alice", builtin.AlgES256)
		bob := f.register(t, "bob", builtin.AlgEd25519)

		// start initiates on alice's device and checks the answer and the notification.
		start := func(t *testing.T) string {
			t.Helper()
			out := f.initiate(t, "alice", alice.id)
			if out.Status != provider.StatusPending || len(out.TransactionID) < 26 || out.Attributes != nil {
				t.Fatalf("initiate: %+v", out)
			}
			n := f.notified.last()
			if n.DeviceID != alice.id || n.ChallengeID != out.TransactionID || n.User != "alice" ||
				!n.ExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
				t.Errorf("notification: %+v", n)
			}
			return out.TransactionID
		}

		for _, c := range []struct {
			decision provider.Decision
			want     provider.Status
		}{
			{provider.Approve, provider.StatusSuccess},
			{provider.Deny, provider.StatusFailed},
			{provider.Cancel, provider.StatusCanceled},
		} {
			t.Run(string(c.decision), func(t *testing.T) {
				tx := start(t)
				list, err := f.devices.Pending(ctx, alice.id)
				if err != nil || len(list) != 1 || list[0].ID != tx || list[0].User != "alice" || list[0].NumberMatching ||
					list[0].Message == "" || !list[0].ExpiresAt.Equal(f.clock.Now().Add(2*time.Minute)) {
					t.Fatalf("pending: %+v %v", list, err)
				}
				if got := f.result(t, "alice", alice.id, tx); got != provider.StatusPending {
					t.Errorf("result before the answer: %s", got)
				}
				if got, err := f.answer(alice, tx, c.decision, nil); err != nil || got != c.want {
					t.Fatalf("answer: %s %v", got, err)
				}
				for range 3 { // every later poll answers the same
					if got := f.result(t, "alice", alice.id, tx); got != c.want {
						t.Errorf("result: %s, want %s", got, c.want)
					}
				}
				// The same answer sent again (its 200 lost) is told the status it set;
				// another is refused.
				if got, err := f.answer(alice, tx, c.decision, nil); err != nil || got != c.want {
					t.Errorf("the answer sent again: %s %v, want %s", got, err, c.want)
				}
				other := provider.Approve
				if c.decision == provider.Approve {
					other = provider.Cancel
				}
				if _, err := f.answer(alice, tx, other, nil); !errors.Is(err, provider.ErrChallengeClosed) {
					t.Errorf("second answer: %v", err)
				}
				if list, _ := f.devices.Pending(ctx, alice.id); len(list) != 0 {
					t.Errorf("still pending: %+v", list)
				}
			})
		}
		if logs := f.logs.String(); !strings.Contains(logs, `"level":"WARN","msg":"push denied on the device: possible fraud","device":"`+alice.id+`","user":"alice"`) {
			t.Errorf("a denial is not logged as a fraud signal:\n%s", logs)
		}
		if events, _ := st.ListAudit(ctx, store.AuditFilter{Username: "alice"}); len(events) < 3 || events[0].Resource != "device answer" {
			t.Errorf("device answers not audited: %+v", events)
		}

		t.Run("a newer challenge cancels the older", func(t *testing.T) {
			first := start(t)
			second := start(t)
			if got := f.result(t, "alice", alice.id, first); got != provider.StatusCanceled {
				t.Errorf("older: %s", got)
			}
			if list, _ := f.devices.Pending(ctx, alice.id); len(list) != 1 || list[0].ID != second {
				t.Errorf("pending: %+v", list)
			}
			if _, err := f.answer(alice, first, provider.Approve, nil); !errors.Is(err, provider.ErrChallengeClosed) {
				t.Errorf("approving the canceled one: %v", err)
			}
			f.answer(alice, second, provider.Cancel, nil)
		})

		t.Run("deadline", func(t *testing.T) {
			tx := start(t)
			f.clock.Advance(2*time.Minute - time.Second)
			if got := f.result(t, "alice", alice.id, tx); got != provider.StatusPending {
				t.Errorf("just before the deadline: %s", got)
			}
			f.clock.Advance(time.Second)
			if list, _ := f.devices.Pending(ctx, alice.id); len(list) != 0 {
				t.Errorf("expired challenge listed: %+v", list)
			}
			if _, err := f.answer(alice, tx, provider.Approve, nil); !errors.Is(err, provider.ErrChallengeClosed) {
				t.Errorf("approving after the deadline: %v", err)
			}
			for range 2 {
				if got := f.result(t, "alice", alice.id, tx); got != provider.StatusTimeout {
					t.Errorf("after the deadline: %s", got)
				}
			}
		})

		t.Run("foreign transactions", func(t *testing.T) {
			tx := start(t)
			if got := f.result(t, "bob", bob.id, tx); got != provider.StatusFailed {
				t.Errorf("bob polling alice's transaction: %s", got)
			}
			if got := f.result(t, "bob", alice.id, tx); got != provider.StatusFailed {
				t.Errorf("bob naming alice's device: %s", got)
			}
			if got := f.result(t, "alice", alice.id, "no-such-transaction"); got != provider.StatusFailed {
				t.Errorf("unknown transaction: %s", got)
			}
			if _, err := f.answer(bob, tx, provider.Approve, nil); !errors.Is(err, provider.ErrNoChallenge) {
				t.Errorf("bob's device answering alice's challenge: %v", err)
			}
			if _, err := f.answer(alice, "no-such-challenge", provider.Approve, nil); !errors.Is(err, provider.ErrNoChallenge) {
				t.Errorf("unknown challenge: %v", err)
			}
			if _, err := f.answer(alice, tx, "maybe", nil); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("unknown decision: %v", err)
			}
			if got := f.result(t, "alice", alice.id, tx); got != provider.StatusPending {
				t.Errorf("after foreign attempts: %s", got)
			}
			out, _ := f.engine.Validate(ctx, provider.Request{Capability: "push", ID: alice.id, Username: "alice", Passvalue: "123456", TransactionID: tx})
			if out.Status != provider.StatusFailed {
				t.Errorf("validate on push: %+v", out)
			}
			// The activation transaction of a device is no challenge.
			e := f.enroll(t, "alice")
			if got := f.result(t, "alice", e.Factor.ID, e.ActivationCode); got != provider.StatusFailed {
				t.Errorf("result on a pending device: %s", got)
			}
		})

		t.Run("notifier failure", func(t *testing.T) {
			f.notified.fail = errors.New("gateway down")
			defer func() { f.notified.fail = nil }()
			tx := start(t)
			if got := f.result(t, "alice", alice.id, tx); got != provider.StatusPending {
				t.Errorf("after a failed notification: %s", got)
			}
			if !strings.Contains(f.logs.String(), "gateway down") {
				t.Error("notifier failure not logged")
			}
			if got, err := f.answer(alice, tx, provider.Approve, nil); err != nil || got != provider.StatusSuccess {
				t.Errorf("a polling device still approves: %s %v", got, err)
			}
		})
	})
}

func TestPushNumberMatching(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, true)
		ctx := context.Background()
		d := f.register(t, "alice", builtin.AlgES256)
		start := func() (string, int) {
			out := f.initiate(t, "alice", d.id)
			n, ok := out.Attributes["number"].(int)
			if out.Status != provider.StatusPending || !ok || n < 10 || n > 99 {
				t.Fatalf("initiate: %+v", out)
			}
			return out.TransactionID, n
		}
		tx, n := start()
		list, _ := f.devices.Pending(ctx, d.id)
		if len(list) != 1 || !list[0].NumberMatching {
			t.Errorf("pending: %+v", list)
		}
		if raw, _ := json.Marshal(list); strings.Contains(string(raw), `"number"`) {
			t.Errorf("the device is told the number: %s", raw)
		}
		right := n
		if got, err := f.answer(d, tx, provider.Approve, &right); err != nil || got != provider.StatusSuccess {
			t.Errorf("right number: %s %v", got, err)
		}
		if got := f.result(t, "alice", d.id, tx); got != provider.StatusSuccess {
			t.Errorf("result: %s", got)
		}

		tx, n = start()
		wrong := n%90 + 11 // another 2-digit number
		if got, err := f.answer(d, tx, provider.Approve, &wrong); err != nil || got != provider.StatusFailed {
			t.Errorf("wrong number: %s %v", got, err)
		}
		if got := f.result(t, "alice", d.id, tx); got != provider.StatusFailed {
			t.Errorf("result after a wrong number: %s", got)
		}
		if !strings.Contains(f.logs.String(), `"reason":"wrong number"`) {
			t.Error("a wrong number is not logged")
		}

		tx, _ = start()
		if got, _ := f.answer(d, tx, provider.Approve, nil); got != provider.StatusFailed {
			t.Errorf("approve without the number: %s", got)
		}
		tx, _ = start()
		if got, _ := f.answer(d, tx, provider.Deny, nil); got != provider.StatusFailed {
			t.Errorf("deny needs no number: %s", got)
		}
	})
}

// TestPushConcurrentAnswers: approve and deny race on one challenge; exactly one is
// recorded, and result reports that one. The winner's copies (the same decision, as a
// device sending it again) are told its status; the other decision is refused.
func TestPushConcurrentAnswers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", builtin.AlgEd25519)
		for round := range 5 {
			tx := f.initiate(t, "alice", d.id).TransactionID
			var mu sync.Mutex
			var winners []provider.Status
			var wg sync.WaitGroup
			for i := range 8 {
				decision := provider.Approve
				if i%2 == 1 {
					decision = provider.Deny
				}
				wg.Go(func() {
					got, err := f.answer(d, tx, decision, nil)
					switch {
					case err == nil:
						mu.Lock()
						winners = append(winners, got)
						mu.Unlock()
					case !errors.Is(err, provider.ErrChallengeClosed):
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if len(winners) != 4 || slices.ContainsFunc(winners, func(s provider.Status) bool { return s != winners[0] }) {
				t.Fatalf("round %d: answers %v, want the winner's 4 alike", round, winners)
			}
			evs := slices.DeleteFunc(answersOf(t, st, d.id), func(ev store.AuditEvent) bool {
				return strings.HasPrefix(ev.Reason, "denied after") // a denial that lost to an approval
			})
			if len(evs) != round+1 {
				t.Fatalf("round %d: %d answers recorded, want %d", round, len(evs), round+1)
			}
			if got := f.result(t, "alice", d.id, tx); got != winners[0] {
				t.Errorf("round %d: result %s, but %s won", round, got, winners[0])
			}
		}
	})
}

func TestHTTPNotifier(t *testing.T) {
	var mu sync.Mutex
	var got map[string]any
	var hdr http.Header
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		json.Unmarshal(body, &got)
		hdr = r.Header.Clone()
		if r.URL.Path == "/slow" {
			<-r.Context().Done() // until the notifier's own timeout gives up
		}
		if r.URL.Path == "/huge" { // a gateway answering megabytes of headers
			w.Header().Set("X-Filler", strings.Repeat("x", 200<<10))
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	n := builtin.NewHTTPNotifier(srv.URL, http.Header{"Authorization": {"Bearer gw-secret"}}, time.Second)
	at := time.Date(2026, 3, 1, 12, 2, 0, 0, time.UTC)
	msg := builtin.Notification{DeviceID: "dev1", ChallengeID: "ch1", User: "alice", ExpiresAt: at}
	if err := n.Notify(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if got["deviceId"] != "dev1" || got["challengeId"] != "ch1" || got["user"] != "alice" || got["expiresAt"] != "2026-03-01T12:02:00Z" ||
		hdr.Get("Authorization") != "Bearer gw-secret" || hdr.Get("Content-Type") != "application/json" {
		t.Errorf("notification %v with headers %v", got, hdr)
	}
	status = http.StatusInternalServerError
	mu.Unlock()
	if err := n.Notify(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("a 500 is not an error: %v", err)
	}
	slow := builtin.NewHTTPNotifier(srv.URL+"/slow", nil, 50*time.Millisecond)
	if err := slow.Notify(context.Background(), msg); err == nil {
		t.Error("a notifier slower than its timeout did not fail")
	}
	huge := builtin.NewHTTPNotifier(srv.URL+"/huge", nil, time.Second)
	if err := huge.Notify(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "header") {
		t.Errorf("200 KiB of response headers were accepted: %v", err)
	}
	// Its error is logged: a key in the gateway URL's query or user info stays out of it.
	keyed := builtin.NewHTTPNotifier(strings.Replace(srv.URL, "http://", "http://gw:pushsecret@", 1)+"/slow?key=pushsecret", nil, 50*time.Millisecond)
	if err := keyed.Notify(context.Background(), msg); err == nil || strings.Contains(err.Error(), "pushsecret") || !strings.Contains(err.Error(), "/slow") {
		t.Errorf("a failed notification with a key in its URL: %v", err)
	}
	// A gateway's redirect is a failure, not followed: the headers (credentials) and the
	// notification would reach a host the configuration does not name.
	var leaked atomic.Value
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("X-Gateway-Key"))
	}))
	defer elsewhere.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	defer redirecting.Close()
	moved := builtin.NewHTTPNotifier(redirecting.URL, http.Header{"X-Gateway-Key": {"gw-secret"}}, time.Second)
	if err := moved.Notify(context.Background(), msg); err == nil || !strings.Contains(err.Error(), "307") || leaked.Load() != nil {
		t.Errorf("a 307 from the gateway: %v, the header reached the redirect's host: %v", err, leaked.Load())
	}
}

// TestPushResultOutlivesADisable: an approved push answers SUCCESS to every later poll,
// even once its user is disabled (contract §7); a push still pending is then refused.
func TestPushResultOutlivesADisable(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		alice := f.register(t, "alice", builtin.AlgES256)
		approved := f.initiate(t, "alice", alice.id).TransactionID
		if got, err := f.answer(alice, approved, provider.Approve, nil); err != nil || got != provider.StatusSuccess {
			t.Fatalf("answer: %s %v", got, err)
		}
		pending := f.initiate(t, "alice", alice.id).TransactionID
		if err := st.SetUserDisabled(context.Background(), "alice", true); err != nil {
			t.Fatal(err)
		}
		if got := f.result(t, "alice", alice.id, approved); got != provider.StatusSuccess {
			t.Errorf("approved, then the user disabled: %s", got)
		}
		if got := f.result(t, "alice", alice.id, pending); got != provider.StatusFailed {
			t.Errorf("pending, then the user disabled: %s", got)
		}
		// That FAILED is the challenge's end: enabled again, the user's device cannot
		// approve it into a SUCCESS at the next poll. Before, nothing was written, and an
		// attacker's push refused while the user was disabled signed in once it was
		// approved after the user was enabled.
		if err := st.SetUserDisabled(context.Background(), "alice", false); err != nil {
			t.Fatal(err)
		}
		if got, err := f.answer(alice, pending, provider.Approve, nil); err == nil || got == provider.StatusSuccess {
			t.Errorf("an approval of the refused challenge once enabled: %s %v, want refused", got, err)
		}
		if got := f.result(t, "alice", alice.id, pending); got != provider.StatusFailed {
			t.Errorf("the refused challenge polled once enabled: %s, want FAILED again", got)
		}
		// A poll naming another user's challenge is refused, and does not end it.
		bob := f.register(t, "bob", builtin.AlgEd25519)
		bobs := f.initiate(t, "bob", bob.id).TransactionID
		if err := st.SetUserDisabled(context.Background(), "alice", true); err != nil {
			t.Fatal(err)
		}
		if got := f.result(t, "alice", alice.id, bobs); got != provider.StatusFailed {
			t.Errorf("alice's poll of bob's challenge: %s", got)
		}
		if got, err := f.answer(bob, bobs, provider.Approve, nil); err != nil || got != provider.StatusSuccess {
			t.Errorf("bob's challenge after alice's refused poll of it: %s %v, want approved", got, err)
		}
	})
}

// TestPushApprovedAfterADisable: a challenge still pending when its user is disabled is
// FAILED to result, and stays so: the poll ended it, so the device's approval afterwards
// finds it closed, never SUCCESS for a disabled user.
func TestPushApprovedAfterADisable(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		alice := f.register(t, "alice", builtin.AlgES256)
		tx := f.initiate(t, "alice", alice.id).TransactionID
		if err := st.SetUserDisabled(context.Background(), "alice", true); err != nil {
			t.Fatal(err)
		}
		if got := f.result(t, "alice", alice.id, tx); got != provider.StatusFailed {
			t.Errorf("pending, the user disabled: %s", got)
		}
		if got, err := f.answer(alice, tx, provider.Approve, nil); !errors.Is(err, provider.ErrChallengeClosed) || got == provider.StatusSuccess {
			t.Errorf("approved after the disable: %s %v, want the challenge closed", got, err)
		}
		if got := f.result(t, "alice", alice.id, tx); got != provider.StatusFailed {
			t.Errorf("result after the approval: %s, want FAILED", got)
		}
	})
}

// TestConcurrentPushInitiatesLeaveOnePending: initiates of one push factor side by side
// (Verify's calls on several replicas) leave one challenge pending, the last started:
// each unit takes the factor's lock (store.Writer.LockFactor) before it starts its
// challenge and withdraws the others. Before, on PostgreSQL two units side by side each
// missed the other's uncommitted challenge, and both stayed pending: two prompts on the
// phone, either of which signed in. SQLite runs units one at a time.
func TestConcurrentPushInitiatesLeaveOnePending(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", "Ed25519")
		for round := range 10 {
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					out, err := f.engine.Initiate(context.Background(), provider.Request{Capability: "push", ID: d.id, Username: "alice"})
					if err != nil || out.Status != provider.StatusPending {
						t.Errorf("initiate: %+v, %v", out, err)
					}
				})
			}
			wg.Wait()
			if p, err := st.ListPendingTransactions(context.Background(), d.id, f.clock.Now()); err != nil || len(p) != 1 {
				t.Fatalf("round %d: %d push challenges pending (%v), want 1", round, len(p), err)
			}
		}
	})
}
