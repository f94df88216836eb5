package sync_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// failingWith is a vendor that fails every propagation with err.
type failingWith struct{ err error }

func (failingWith) PropagationTarget() string                                  { return "wordy" }
func (f failingWith) Propagate(context.Context, provider.LifecycleEvent) error { return f.err }

// TestFailureNoteIsText: a vendor's failure is recorded however its message runs:
// the note it leaves is cut to its length on a character's boundary, and holds no byte
// that is not UTF-8. Before, a message whose 500th byte fell inside a character ("é")
// was cut there, PostgreSQL refused the note, and with it the record of the failure: the
// propagation stayed leased, was claimed and sent to the vendor again at every lease,
// with no backoff and no dead letter.
func TestFailureNoteIsText(t *testing.T) {
	for _, c := range []struct{ name, msg string }{
		{"a character cut at the note's length", strings.Repeat("x", 500-len("propagate: ")-1) + "é, la requête a échoué"},
		{"bytes that are not UTF-8", "the vendor said: r\xe9ponse invalide"},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				q, _, clk := newQueue(t, st)
				q.Propagators = []provider.LifecyclePropagator{failingWith{errors.New(c.msg)}}
				if _, err := q.Enqueue(ctx, []provider.LifecycleEvent{ev("1", provider.EventUserCreate, "alice", clk.Now().Add(-time.Minute))}); err != nil {
					t.Fatal(err)
				}
				if _, err := q.Drain(ctx); err != nil {
					t.Fatalf("the failure not recorded: %v", err)
				}
				evs, err := q.Store.ListEvents(ctx, store.QueueFilter{Source: store.PropagationSource("wordy"), Limit: 10})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 || evs[0].Attempts != 1 || evs[0].State != store.QueuePending || !utf8.ValidString(evs[0].Note) || len(evs[0].Note) > 500 {
					t.Errorf("the propagation: %+v, want pending, one attempt recorded, its note UTF-8 of at most 500 bytes", evs)
				}
			})
		})
	}
}
