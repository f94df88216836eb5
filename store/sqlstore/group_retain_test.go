package sqlstore_test

import (
	"context"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/emfa/emfa/internal/testdb"
)

type retainKey struct{}

// TestAnsweredUnitsNotRetained: once answered, a unit (its fn, its context and
// what they hold) is no longer held by the writer: neither by the queue it waited in, nor
// by the batch slice the next leader reuses, whether it led its batch, queued in one, or
// gave up while queued.
func TestAnsweredUnitsNotRetained(t *testing.T) {
	s := testdb.Memory(t)
	var held []weak.Pointer[[1 << 16]byte]
	ctxHolding := func() context.Context {
		p := new([1 << 16]byte)
		held = append(held, weak.Make(p))
		return context.WithValue(context.Background(), retainKey{}, p)
	}
	// One that leads at once, and one queued behind a held writer.
	if err := s.Update(ctxHolding(), auditUnit("led")); err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	queued := queueUnit(s, ctxHolding(), auditUnit("queued"))
	// One that gives up while queued.
	ctx, cancel := context.WithCancel(ctxHolding())
	gaveUp := queueUnit(s, ctx, auditUnit("gave up"))
	cancel()
	if got := outcome(t, gaveUp, "the unit that gave up"); got == nil {
		t.Error("a unit canceled while queued was told it committed")
	}
	queuedAfter := queueUnit(s, ctxHolding(), auditUnit("after")) // queued behind the held writer too
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if got := outcome(t, queued, "the queued unit"); got != nil {
		t.Fatal(got)
	}
	if got := outcome(t, queuedAfter, "the unit queued after"); got != nil {
		t.Fatal(got)
	}
	for range 3 {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	for i, w := range held {
		if w.Value() != nil {
			t.Errorf("the context of unit %d (led, queued, gave up, queued after) is still held after it was answered", i)
		}
	}
	runtime.KeepAlive(s)
}
