package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestFullSparesNeighbours: a unit that fills the database (SQLITE_FULL, here
// from max_page_count) in a batch with others fails alone. SQLite rolls the whole
// transaction back itself on a full database, so the unit's ROLLBACK TO its savepoint
// fails, and that failed the whole batch: its neighbours, which fit, were told the full
// database's error too, against the rule that a failing write in a batch does not fail
// its neighbours. (How the units batch is not asserted: alone, each is told its own
// outcome all the same.)
func TestFullSparesNeighbours(t *testing.T) {
	s, _, _ := openFaulty(t)
	ctx := context.Background()
	if err := createUser(s, ctx, "h"); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.w.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.Exec(fmt.Sprint("PRAGMA max_page_count = ", pages+4)); err != nil {
		t.Fatal(err)
	}
	big := func(w store.Writer) error {
		return w.AppendAudit(ctx, store.AuditEvent{Time: reviewAt, RequestID: "h-2", Reason: strings.Repeat("x", 64<<10)})
	}
	errs, _ := queueBehind(t, s, nil,
		queued{ctx, audit(ctx, "h-0")},
		queued{ctx, audit(ctx, "h-1")},
		queued{ctx, big},
		queued{ctx, audit(ctx, "h-3")},
	)
	told(t, s, "h-", errs)
	if err := errs[2]; err == nil || !(dialect{}).StorageFault(err) {
		t.Errorf("the write past max_page_count: %v, want SQLITE_FULL", err)
	}
	for _, i := range []int{0, 1, 3} {
		if errs[i] != nil {
			t.Errorf("unit h-%d, which fits, was told %v", i, errs[i])
		}
	}
	if _, err := s.w.Exec("PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
}
