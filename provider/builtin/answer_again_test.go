package builtin_test

import (
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestAnswerSentAgain: a phone on a bad network sends an answer, emfa decides
// it, and the 200 is lost; the app sends it again (a new nonce). It got 409, exactly what
// a challenge withdrawn or timed out gets, so the app could not tell "my answer took" from
// "it was withdrawn". Now the same device sending the same decision again gets the status
// its answer set (200), with no second decision and no second record; another decision,
// or a challenge the device did not decide, is still 409, and another device's 404.
func TestAnswerSentAgain(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, true)
		d := f.register(t, "alice", builtin.AlgEd25519)
		other := f.register(t, "bob", builtin.AlgES256)
		for _, c := range []struct {
			name     string
			decision provider.Decision
			wrong    bool // approve with a wrong number
			want     provider.Status
		}{
			{"approve", provider.Approve, false, provider.StatusSuccess},
			{"approve with a wrong number", provider.Approve, true, provider.StatusFailed},
			{"deny", provider.Deny, false, provider.StatusFailed},
			{"cancel", provider.Cancel, false, provider.StatusCanceled},
		} {
			out := f.initiate(t, "alice", d.id)
			n, ok := out.Attributes["number"].(int)
			if !ok {
				t.Fatalf("initiate: no number: %+v", out)
			}
			if c.wrong {
				n++ // 11-100: never the number
			}
			before := len(answersOf(t, st, d.id))
			got, err := f.answer(d, out.TransactionID, c.decision, &n)
			if err != nil || got != c.want {
				t.Fatalf("%s: %s %v, want %s", c.name, got, err, c.want)
			}
			for range 2 { // sent again, twice: the 200 was lost each time
				if again, err := f.answer(d, out.TransactionID, c.decision, &n); err != nil || again != c.want {
					t.Errorf("%s sent again: %s %v, want %s as the first time", c.name, again, err, c.want)
				}
			}
			if evs := answersOf(t, st, d.id); len(evs) != before+1 {
				t.Errorf("%s sent again: %d records of it, want 1: %+v", c.name, len(evs)-before, evs[:len(evs)-before])
			}
			if got := f.result(t, "alice", d.id, out.TransactionID); got != c.want {
				t.Errorf("%s sent again: result %s, want %s", c.name, got, c.want)
			}
			// Another decision learns nothing: 409, as for any ended challenge.
			for _, dec := range []provider.Decision{provider.Approve, provider.Deny, provider.Cancel} {
				if dec == c.decision {
					continue
				}
				if got, err := f.answer(d, out.TransactionID, dec, &n); !errors.Is(err, provider.ErrChallengeClosed) {
					t.Errorf("%s, then %s: %s %v, want ErrChallengeClosed", c.name, dec, got, err)
				}
			}
			// Another device: 404, as before.
			if got, err := f.answer(other, out.TransactionID, c.decision, &n); !errors.Is(err, provider.ErrNoChallenge) {
				t.Errorf("%s, then another device's %s: %s %v, want ErrNoChallenge", c.name, c.decision, got, err)
			}
			if got := f.result(t, "alice", d.id, out.TransactionID); got != c.want {
				t.Errorf("%s, then other answers: result %s, want %s", c.name, got, c.want)
			}
		}

		// Sent again after an hour: 409, as any answer to an ended challenge.
		approved := f.initiate(t, "alice", d.id)
		n := approved.Attributes["number"].(int)
		if got, err := f.answer(d, approved.TransactionID, provider.Approve, &n); err != nil || got != provider.StatusSuccess {
			t.Fatalf("approve: %s %v", got, err)
		}
		denied := f.initiate(t, "alice", d.id).TransactionID
		if got, err := f.answer(d, denied, provider.Deny, nil); err != nil || got != provider.StatusFailed {
			t.Fatalf("deny: %s %v", got, err)
		}
		f.clock.Advance(time.Hour)
		if got, err := f.answer(d, approved.TransactionID, provider.Approve, &n); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Errorf("an approval sent again an hour later: %s %v, want ErrChallengeClosed", got, err)
		}
		if got, err := f.answer(d, denied, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Errorf("a denial sent again an hour later: %s %v, want ErrChallengeClosed", got, err)
		}

		// A challenge the device did not decide (withdrawn by a newer one) is 409 to
		// every decision, sent once or again: the device cannot pass it off as its own.
		withdrawn := f.initiate(t, "alice", d.id).TransactionID
		f.initiate(t, "alice", d.id)
		for range 2 {
			for _, dec := range []provider.Decision{provider.Cancel, provider.Approve, provider.Deny} {
				if got, err := f.answer(d, withdrawn, dec, nil); !errors.Is(err, provider.ErrChallengeClosed) {
					t.Errorf("%s of a withdrawn challenge: %s %v, want ErrChallengeClosed", dec, got, err)
				}
			}
		}
	})
}
