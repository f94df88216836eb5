package adapter

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// heapWatch is a store that counts the user records it reads and, at each page, the
// heap the request holds (after a collection): what a listing keeps of the pages before.
type heapWatch struct {
	store.Store
	rows int
	peak uint64
}

func (s *heapWatch) ListUserRecords(ctx context.Context, q store.UserQuery) ([]store.UserRecord, error) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	s.peak = max(s.peak, ms.HeapAlloc)
	recs, err := s.Store.ListUserRecords(ctx, q)
	s.rows += len(recs)
	return recs, err
}

// TestSCIMSharedPrefixHeldUsers: a displayName filter of more than maxFoldKeys case
// variants whose prefix more than a page of users share (3,000 of 5,000 here) reads every
// user after its first page. It held every user read until the last page, then matched
// them: a request's heap grew with the directory. It matches each page as it comes and
// keeps only the page it answers; the answers are the full scan's.
func TestSCIMSharedPrefixHeldUsers(t *testing.T) {
	if raceEnabled {
		t.Skip("heap figures under the race detector")
	}
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		const n, shared = 5000, 3000
		numberedUsers(t, st, now, n, func(i int, name string, p *store.Profile) {
			if i < shared {
				p.DisplayName = fmt.Sprintf("Пользователь %05d", i)
			}
		})
		counted := &listCounter{Store: st}
		h, ref := readingHarness(t, st, counted, 0), readingHarness(t, st, unselecting{st}, 0)
		for _, q := range []string{
			`filter=displayName eq "ПОЛЬЗОВАТЕЛЬ 01234"`,
			`filter=displayName eq "пользователь 04999"`,
			`filter=displayName eq "Пользователь 00001" and active eq false`,
			`filter=displayName eq "пользователь 00002" and active eq false`,
		} {
			sameListing(t, h, ref, counted, q, -1)
		}

		// The heap of every user read at once, the unit of what a request may hold.
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		all, err := st.ListUserRecords(t.Context(), store.UserQuery{Limit: n})
		if err != nil || len(all) != n {
			t.Fatalf("%d users, %v", len(all), err)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		every := int64(ms.HeapAlloc) - int64(base)
		runtime.KeepAlive(all)
		all = nil

		watch := &heapWatch{Store: st}
		hw := readingHarness(t, st, watch, 0)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base = ms.HeapAlloc
		code, out, _ := hw.scim("GET", `/Users?filter=displayName+eq+%22%D0%BF%D0%BE%D0%BB%D1%8C%D0%B7%D0%BE%D0%B2%D0%B0%D1%82%D0%B5%D0%BB%D1%8C+01234%22`, "")
		if code != 200 || out["totalResults"] != float64(1) {
			t.Fatalf("%d %v", code, out)
		}
		held := int64(watch.peak) - int64(base)
		t.Logf("rows read %d; heap held at the last page %d KiB, every user %d KiB (%.0f%%)", watch.rows, held>>10, every>>10, 100*float64(held)/float64(every))
		if held > every/2 {
			t.Errorf("the request held %d KiB before its last page, %.0f%% of every user's %d KiB; want under half",
				held>>10, 100*float64(held)/float64(every), every>>10)
		}
	})
}
