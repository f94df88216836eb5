package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store/sqlite"
)

// TestPushPollFaultsAlike: a push sign-in's poll of a name no one has makes the
// reads a real one's does (pollNothing), but ignored their faults: with the store failing
// one of them, alice's poll answered the fault (the page's error) and a name no one has
// "pending", which told who exists to anyone polling while the store was in trouble. Now
// a fault of any of the reads is answered alike.
func TestPushPollFaultsAlike(t *testing.T) {
	ctx := context.Background()
	st := &pollReads{Store: testdb.SQLite(t).(*sqlite.Store)}
	ss, alice, zelda := pushSignIns(t, st)
	for _, what := range []string{"switches", "factor and user", "transaction"} {
		st.fail.Store(what)
		aState, aErr := ss.PushSignInStatus(ctx, alice)
		zState, zErr := ss.PushSignInStatus(ctx, zelda)
		st.fail.Store("")
		if !errors.Is(aErr, errPollFault) {
			t.Fatalf("%s failing: alice's poll %q, %v (the test's premise: a real poll answers the fault)", what, aState, aErr)
		}
		if !errors.Is(zErr, errPollFault) {
			t.Errorf("%s failing: the poll of a name no one has answered %q, %v; alice's the fault", what, zState, zErr)
		}
	}
}
