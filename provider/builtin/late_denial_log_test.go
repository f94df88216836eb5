package builtin_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestLateDenialWarnedOnce: a late denial is recorded once per challenge, but
// its WARN was logged on every call: whoever holds a device's key could sign denial after
// denial of one old challenge and fill the log with "possible fraud" lines an alert counts,
// each looking like a new signal. It is now logged at WARN once, as it is recorded; a
// denial again is only a debug line. A denial whose record fails is still logged at WARN.
func TestLateDenialWarnedOnce(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		d := f.register(t, "alice", builtin.AlgEd25519)
		older := f.initiate(t, "alice", d.id).TransactionID
		f.initiate(t, "alice", d.id) // withdraws older

		for range 5 {
			if _, err := f.answer(d, older, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
				t.Fatalf("denying a withdrawn challenge: %v", err)
			}
		}
		if n := warnings(f.logs.String(), "possible fraud", older); n != 1 {
			t.Errorf("a late denial sent 5 times logged %d fraud warnings, want 1:\n%s", n, f.logs.String())
		}
		if evs := answersOf(t, st, d.id); len(evs) != 1 {
			t.Errorf("records: %+v", evs)
		}

		// The record fails (the store refuses the unit): the signal still reaches the log.
		third := f.initiate(t, "alice", d.id).TransactionID
		f.initiate(t, "alice", d.id)
		broken, err := builtin.NewDevices(builtin.DevicesOptions{Store: refusingUnits{st}, Now: f.clock.Now, Log: logTo(f)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := broken.Answer(context.Background(), d.id, third, provider.Deny, nil); !errors.Is(err, provider.ErrChallengeClosed) {
			t.Fatalf("a late denial whose record fails: %v, want still the 409", err)
		}
		if n := warnings(f.logs.String(), "possible fraud", third); n != 1 {
			t.Errorf("a late denial not recorded logged %d fraud warnings, want 1:\n%s", n, f.logs.String())
		}
		if n := warnings(f.logs.String(), "not recorded", third); n != 1 {
			t.Errorf("a late denial not recorded: no warning that it is not:\n%s", f.logs.String())
		}
	})
}

// warnings counts the WARN lines of the log holding both msg and challenge.
func warnings(log, msg, challenge string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, `"level":"WARN"`) && strings.Contains(line, msg) && strings.Contains(line, challenge) {
			n++
		}
	}
	return n
}

// refusingUnits is a store whose units fail (a disk full, a connection lost).
type refusingUnits struct{ store.Store }

func (refusingUnits) Update(context.Context, func(store.Writer) error) error {
	return errors.New("store unavailable")
}

// logTo is a logger writing to the fixture's log, as its own services do.
func logTo(f *pushFixture) *slog.Logger {
	return slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
