package storetest

import (
	"testing"

	"github.com/emfa/emfa/store"
)

// testGroupPage: GroupPage is ListGroups' slice from offset of at most limit groups, in
// its order, with the number of every group; past the end or of limit 0, none.
func testGroupPage(t *testing.T, s store.Store) {
	ctx := t.Context()
	sq := syncQueue(t, s)
	for _, g := range []store.Group{{ID: "g1", Name: "eng"}, {ID: "g2", Name: "ops"}, {ID: "g3", Name: "Sales"}, {ID: "g4", Name: "éq"}, {ID: "g5", Name: "a b"}} {
		g.CreatedAt, g.UpdatedAt = at(0), at(0)
		must(t, "create group "+g.Name, sq.CreateGroup(ctx, g))
	}
	all, err := sq.ListGroups(ctx)
	must(t, "ListGroups", err)
	names := func(gs []store.Group) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		return out
	}
	for _, tc := range []struct{ offset, limit, lo, hi int }{
		{0, 100, 0, 5}, {0, 2, 0, 2}, {1, 3, 1, 4}, {4, 3, 4, 5}, {5, 3, 5, 5}, {9, 3, 5, 5}, {2, 0, 2, 2},
	} {
		gs, n, err := sq.GroupPage(ctx, tc.offset, tc.limit)
		must(t, "GroupPage", err)
		if n != len(all) {
			t.Errorf("GroupPage(%d, %d): %d groups, want %d", tc.offset, tc.limit, n, len(all))
		}
		diff(t, "the page's groups", names(all[tc.lo:tc.hi]), names(gs))
		if len(gs) > 0 && gs[0] != all[tc.lo] {
			t.Errorf("GroupPage(%d, %d)[0] = %+v, want %+v", tc.offset, tc.limit, gs[0], all[tc.lo])
		}
	}
}
