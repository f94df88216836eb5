package adapter

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// TestSCIMGroupExternalIDFilterReadsItsGroups: GET /Groups?filter=externalId eq
// "x" (an IdP matching its group to emfa's) read every group to keep those of x. It reads
// the groups of x alone, and answers them, in name order, as the whole listing would.
func TestSCIMGroupExternalIDFilterReadsItsGroups(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, s store.Store) {
		st := &groupRows{syncStore: s.(syncStore)}
		h := newSyncHarnessOn(t, st)
		const n = 300
		makeGroups(t, st, n, 0)
		now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		for _, g := range []store.Group{{ID: "gid-x2", Name: "gx2", ExternalID: "x"}, {ID: "gid-x1", Name: "gx1", ExternalID: "x"},
			{ID: "gid-y", Name: "gy", ExternalID: "X"}} {
			g.CreatedAt, g.UpdatedAt = now, now
			if err := st.CreateGroup(context.Background(), g); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			filter string
			start  string
			ids    []string
		}{
			{`externalId eq "x"`, "1", []string{"gid-x1", "gid-x2"}},
			{`externalId eq "x"`, "2", []string{"gid-x2"}},
			{`externalId eq "X"`, "1", []string{"gid-y"}},
			{`externalId eq "nope"`, "1", nil},
		} {
			st.rows = 0
			code, out, _ := h.scim("GET", "/Groups?"+url.Values{"filter": {c.filter}, "startIndex": {c.start}}.Encode(), "")
			if code != 200 {
				t.Fatalf("%s: %d %v", c.filter, code, out)
			}
			var ids []string
			for _, r := range out["Resources"].([]any) {
				ids = append(ids, r.(map[string]any)["id"].(string))
			}
			total := 0
			switch c.filter {
			case `externalId eq "x"`:
				total = 2
			case `externalId eq "X"`:
				total = 1
			}
			if len(ids) != len(c.ids) || len(ids) > 0 && ids[0] != c.ids[0] || len(ids) > 1 && ids[1] != c.ids[1] || out["totalResults"] != float64(total) {
				t.Errorf("%s from %s: %v of %v, want %v of %d", c.filter, c.start, ids, out["totalResults"], c.ids, total)
			}
			if st.rows > 2 {
				t.Errorf("%s read %d groups of %d, want at most the 2 of its externalId", c.filter, st.rows, n+3)
			}
		}
	})
}

func (s *groupRows) GroupsByExternalID(ctx context.Context, externalID string) ([]store.Group, error) {
	gs, err := s.syncStore.GroupsByExternalID(ctx, externalID)
	s.rows += len(gs)
	return gs, err
}
