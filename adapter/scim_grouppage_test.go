package adapter

import (
	"context"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// BenchmarkSCIMGroupPage answers GET /Groups for a page of 10 among 20,000 groups
// (SQLite), and a lookup by displayName, as Entra ID sends before it creates a group.
func BenchmarkSCIMGroupPage(b *testing.B) {
	st := testdb.SQLite(b)
	h := newSyncHarnessOn(b, st)
	makeGroups(b, st, 20000, 0)
	for _, query := range []string{"?startIndex=10001&count=10&excludedAttributes=members",
		"?" + url.Values{"filter": {`displayName eq "g12345"`}, "excludedAttributes": {"members"}}.Encode()} {
		b.Run(query, func(b *testing.B) {
			for b.Loop() {
				if code, out, _ := h.scim("GET", "/Groups"+query, ""); code != 200 || len(out["Resources"].([]any)) == 0 {
					b.Fatalf("%d %v", code, out)
				}
			}
		})
	}
}

// groupRows is a store that counts the groups it reads.
type groupRows struct {
	syncStore
	rows int
}

func (s *groupRows) ListGroups(ctx context.Context) ([]store.Group, error) {
	gs, err := s.syncStore.ListGroups(ctx)
	s.rows += len(gs)
	return gs, err
}

func (s *groupRows) GroupPage(ctx context.Context, offset, limit int) ([]store.Group, int, error) {
	gs, n, err := s.syncStore.GroupPage(ctx, offset, limit)
	s.rows += len(gs)
	return gs, n, err
}

func (s *groupRows) GetGroup(ctx context.Context, id string) (store.Group, error) {
	s.rows++
	return s.syncStore.GetGroup(ctx, id)
}

func (s *groupRows) GetGroupByName(ctx context.Context, name string) (store.Group, error) {
	s.rows++
	return s.syncStore.GetGroupByName(ctx, name)
}

// TestSCIMGroupPageReadsItsGroups: GET /Groups read every group to answer a page
// of them, and a lookup by displayName or id (Entra ID's, before it creates a group)
// read every group too. A page reads its own groups (and counts the rest); a lookup reads
// its group. Each answer is the slice of the whole listing's it was.
func TestSCIMGroupPageReadsItsGroups(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, s store.Store) {
		st := &groupRows{syncStore: s.(syncStore)}
		h := newSyncHarnessOn(t, st)
		const n = 300
		makeGroups(t, st, n, 30)
		_, all, _ := h.scim("GET", "/Groups?count=1000", "")
		every := all["Resources"].([]any)
		if len(every) != n {
			t.Fatalf("listed %d groups, want %d", len(every), n)
		}
		for _, c := range []struct {
			query      string
			rows       int
			total      int
			start, end int // of every
		}{
			{"?startIndex=11&count=20", 20, n, 10, 30},
			{"?startIndex=291&count=20", 10, n, 290, 300},
			{"?startIndex=301&count=20", 0, n, 300, 300},
			{"?startIndex=5000&count=20", 0, n, 300, 300},
			{"?count=0", 0, n, 0, 0},
			{"?startIndex=0&count=3&excludedAttributes=members", 3, n, 0, 3},
			{"?" + url.Values{"filter": {`displayName eq "g123"`}}.Encode(), 1, 1, 123, 124},
			{"?" + url.Values{"filter": {`displayName eq "G123"`}}.Encode(), 1, 0, 0, 0},
			{"?" + url.Values{"filter": {`displayName eq "g123"`}, "startIndex": {"2"}}.Encode(), 1, 1, 0, 0},
			{"?" + url.Values{"filter": {`displayName eq "g123" and id eq "gid-123"`}}.Encode(), 1, 1, 123, 124},
			{"?" + url.Values{"filter": {`displayName eq "g123" and id eq "gid-124"`}}.Encode(), 1, 0, 0, 0},
			{"?" + url.Values{"filter": {`id eq "gid-007"`}}.Encode(), 1, 1, 7, 8},
			{"?" + url.Values{"filter": {`id eq "nope"`}}.Encode(), 1, 0, 0, 0},
			{"?" + url.Values{"filter": {`displayName eq "nope"`}}.Encode(), 1, 0, 0, 0},
		} {
			st.rows = 0
			code, out, _ := h.scim("GET", "/Groups"+c.query, "")
			if code != 200 {
				t.Fatalf("%s: %d %v", c.query, code, out)
			}
			if st.rows > c.rows {
				t.Errorf("%s read %d groups, want at most %d", c.query, st.rows, c.rows)
			}
			if got := out["totalResults"]; got != float64(c.total) {
				t.Errorf("%s: totalResults %v, want %d", c.query, got, c.total)
			}
			want := every[c.start:c.end]
			if strings.Contains(c.query, "excludedAttributes") {
				want = nil
				for _, r := range every[c.start:c.end] {
					g := maps.Clone(r.(map[string]any))
					delete(g, "members")
					want = append(want, g)
				}
			}
			if got := out["Resources"].([]any); !cmp.Equal(want, got, cmpopts.EquateEmpty()) {
				t.Errorf("%s: (-want +got)\n%s", c.query, cmp.Diff(want, got, cmpopts.EquateEmpty()))
			}
		}
	})
}
