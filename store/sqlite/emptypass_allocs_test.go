package sqlite_test

import (
	"testing"

	"github.com/emfa/emfa/store"
)

// TestEmptyPassAllocs: a pass through an idle group writer allocates no channel to
// be answered on: its caller runs the batch (15 allocations before 0664b2e).
func TestEmptyPassAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	s := open(t, fileDSN(t))
	ctx := store.DeferSync(t.Context())
	if n := allocsPerCall(t, func() {
		if err := s.Update(ctx, func(store.Writer) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}); n > 14 {
		t.Errorf("allocations of an empty deferred pass: %v, want at most 14", n)
	}
}
