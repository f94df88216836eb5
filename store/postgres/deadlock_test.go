package postgres_test

import (
	"testing"

	"github.com/emfa/emfa/store/storetest"
)

// A SCIM group write and an import's batch changing the same users at once both apply,
// and PostgreSQL aborts neither as deadlocked, in any round: they lock the users' rows,
// and the group's, in one order. (A batch that went change by change after an abort would
// hide it, hence the count.)
func TestGroupWriteWithUserBatchDoNotDeadlock(t *testing.T) {
	d := &deadlocks{}
	s := openTraced(t, "", 4, d)
	storetest.GroupWriteWithUserBatch(t, s, 40)
	if n := d.n.Load(); n > 0 {
		t.Errorf("%d statements aborted as deadlocked", n)
	}
}
