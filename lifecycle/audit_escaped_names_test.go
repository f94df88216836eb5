package lifecycle_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestAuditFindsNameRawAndEscaped: rows written before the trail escaped invisible
// characters hold a user's name raw ("alice" and a ZERO WIDTH SPACE), rows written since
// hold it escaped (`alice\u200b`). `?user=` escaped only the name it was given, so the
// old rows of a user were found by no writing of its name. The name, written raw or
// escaped, finds both now, and neither finds alice's own rows.
func TestAuditFindsNameRawAndEscaped(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		for _, name := range []string{"alice\u200b", "\u2066bob\u2069", "carol\U000e0001"} {
			t.Run(name, func(t *testing.T) {
				u := store.User{ID: "legacy-" + name, Name: name, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
				if err := st.ApplyUserChanges(ctx, []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
					t.Fatal(err)
				}
				// Written before the escaping: the name raw, as its request gave it.
				old := store.AuditEvent{Time: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Username: name, Resource: "validate", Outcome: "SUCCESS"}
				if err := st.AppendAudit(ctx, old); err != nil {
					t.Fatal(err)
				}
				if _, err := m.SetUserState(ctx, "test", name, true); err != nil {
					t.Fatal(err)
				}
				escaped := escapeName(name)
				for _, ask := range []string{name, escaped} {
					page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: ask})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, e := range page.Events {
						got = append(got, e.Action+" "+e.User)
					}
					slices.Sort(got)
					want := []string{"admin.users.disable " + escaped, "validate " + name}
					if !slices.Equal(got, want) {
						t.Errorf("?user=%+q: %q, want %q", ask, got, want)
					}
				}
			})
		}
		if page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "alice"}); err != nil || len(page.Events) != 1 {
			t.Errorf("audit of alice: %+v %v, want her creation alone", page.Events, err)
		}
	})
}

// escapeName is name as the trail writes it now: each character above U+007F escaped
// (`\u200b`), which for these names are the invisible ones.
func escapeName(name string) string {
	var out []byte
	for _, r := range name {
		if r < 0x80 {
			out = append(out, byte(r))
			continue
		}
		out = append(out, []byte(`\u`)...)
		out = append(out, []byte(hex4(r))...)
	}
	return string(out)
}

func hex4(r rune) string {
	const digits = "0123456789abcdef"
	var b []byte
	for r > 0 {
		b = append([]byte{digits[r%16]}, b...)
		r /= 16
	}
	for len(b) < 4 {
		b = append([]byte{'0'}, b...)
	}
	return string(b)
}
