package storetest

import (
	"database/sql"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testUserNameCase: a name finds its user whatever the case of its ASCII letters, and no
// second user can differ from one only by that case (store.FoldName); other characters
// are matched as they are, Unicode letters included.
func testUserNameCase(t *testing.T, s store.Store) {
	ctx := t.Context()
	dana := store.User{ID: "u1", Name: "Dana@Example.com", CreatedAt: at(0)}
	mustCreateUser(t, s, dana)
	mustCreateFactor(t, s, newFactor("f1", "u1", at(0)))

	for _, name := range []string{"Dana@Example.com", "dana@example.com", "DANA@EXAMPLE.COM"} {
		u, err := s.GetUser(ctx, name)
		if err != nil || u.ID != "u1" || u.Name != dana.Name {
			t.Errorf("GetUser(%q) = %+v, %v; want u1 named as created", name, u, err)
		}
		if r, err := s.GetUserRecord(ctx, name); err != nil || r.ID != "u1" || r.Name != dana.Name {
			t.Errorf("GetUserRecord(%q) = %+v, %v; want u1 named as created", name, r, err)
		}
		if _, u, err := s.GetFactorAndUser(ctx, "f1", name); err != nil || u.ID != "u1" {
			t.Errorf("GetFactorAndUser(f1, %q) = %+v, %v; want u1", name, u, err)
		}
	}

	other := store.User{ID: "u2", Name: "dana@example.COM", CreatedAt: at(0)}
	wantErr(t, "CreateUser differing by case", s.CreateUser(ctx, other), store.ErrExists)
	errs := apply(t, s, store.UserChange{Name: other.Name, Create: &other, Now: at(time.Second)})
	wantErr(t, "ApplyUserChanges creating a name differing by case", errs[0], store.ErrExists)

	// Changes that name the user in other cases, two in one batch, reach it.
	yes, no := true, false
	mustApply(t, s,
		store.UserChange{Name: "dana@example.com", Disabled: &yes, Now: at(time.Second)},
		store.UserChange{Name: "DANA@example.com", Profile: &store.Profile{Email: "d@example.com"}, Now: at(time.Second)})
	r, err := s.GetUserRecord(ctx, "Dana@Example.com")
	if err != nil || !r.Disabled || r.Profile.Email != "d@example.com" {
		t.Errorf("after changes by other cases: %+v, %v; want disabled, with the email", r, err)
	}
	wantErr(t, "SetUserDisabled", s.SetUserDisabled(ctx, "dana@EXAMPLE.com", no), nil)
	if u, _ := s.GetUser(ctx, dana.Name); u.Disabled {
		t.Error("SetUserDisabled by another case did not enable the user")
	}

	// Only ASCII folds: the Kelvin sign (which Unicode folds to k), and an accented
	// capital, name users of their own.
	for _, u := range []store.User{
		{ID: "k1", Name: "kate", CreatedAt: at(0)},
		{ID: "k2", Name: "\u212Aate", CreatedAt: at(0)},
		{ID: "a1", Name: "\u00C0la", CreatedAt: at(0)},
		{ID: "a2", Name: "\u00E0la", CreatedAt: at(0)},
	} {
		mustCreateUser(t, s, u)
	}
	for name, id := range map[string]string{"KATE": "k1", "\u212AATE": "k2", "\u00C0LA": "a1", "\u00E0LA": "a2"} {
		if u, err := s.GetUser(ctx, name); err != nil || u.ID != id {
			t.Errorf("GetUser(%q) = %+v, %v; want %s", name, u, err, id)
		}
	}

	// The audit trail keeps a name as given, and a query by user finds it in any case.
	for _, name := range []string{"Dana@Example.com", "dana@example.com", "\u212Aate"} {
		if err := s.AppendAudit(ctx, store.AuditEvent{Time: at(time.Second), Username: name, Resource: "validate", Outcome: "SUCCESS"}); err != nil {
			t.Fatalf("AppendAudit(%q): %v", name, err)
		}
	}
	got, err := s.QueryAudit(ctx, store.AuditQuery{Username: "DANA@EXAMPLE.COM"})
	if err != nil || len(got) != 2 || got[0].Username != "dana@example.com" || got[1].Username != "Dana@Example.com" {
		t.Errorf("QueryAudit(DANA@EXAMPLE.COM) = %+v, %v; want both rows, names as given", got, err)
	}
	if got, err := s.ListAudit(ctx, store.AuditFilter{Username: "dAna@example.com"}); err != nil || len(got) != 2 {
		t.Errorf("ListAudit(dAna@example.com) = %+v, %v; want both rows", got, err)
	}
	if got, err := s.QueryAudit(ctx, store.AuditQuery{Username: "KATE"}); err != nil || len(got) != 0 {
		t.Errorf("QueryAudit(KATE) = %+v, %v; want none (the Kelvin sign is not K)", got, err)
	}

	wantErr(t, "DeleteUser by another case", s.DeleteUser(ctx, "DANA@EXAMPLE.COM"), nil)
	_, err = s.GetUser(ctx, dana.Name)
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
}

// FoldSamples are names on which store.FoldName must agree with the lower() a backend's
// index computes (each backend's TestFoldNameIsLower): if they differed, a lookup would
// miss a user the index holds. Letters whose Unicode lower case is not ASCII's, or whose
// case mapping changes their length, and seeded random mixes of ASCII and other runes.
func FoldSamples() []string {
	out := []string{"", "alice", "ALICE", "Dana@Example.COM", "\u212Aate", "\u00C0LA", "\u0130STANBUL",
		"STRASSE \u00DF \u1E9E", "\u01C4\u01C5\u01C6", "\u03A3\u039F\u03A3", "ﬀ", "\u0041\u030A", "Z[`a{", "@[\\]^_`"}
	r := rand.New(rand.NewPCG(16, 9))
	pool := []rune("AZaz09@._-[`{ \u00C0\u00C9\u00DF\u0130\u0131\u212A\u03A3\u0416\u1E9E\U0001F600")
	for range 200 {
		b := make([]rune, 1+r.IntN(24))
		for i := range b {
			if r.IntN(3) == 0 {
				b[i] = pool[r.IntN(len(pool))]
			} else {
				b[i] = rune(0x20 + r.IntN(0x5F)) // printable ASCII
			}
		}
		out = append(out, string(b))
	}
	return out
}

// syncKeysBefore are directory sync's marks and events under user keys of unfolded names,
// in a schema at migration 10.
var syncKeysBefore = []string{
	`INSERT INTO sync_marks (key, event_time) VALUES
		('user:Dana@Example.com', 3000), ('user:dana@example.com', 2000), ('user:DANA@example.com', 1000),
		('user:EVE', 5000), ('user:frank', 6000), ('user:Éva', 7000), ('group:Ops', 8000)`,
	`INSERT INTO sync_events (source, event_id, order_key, type, event_time, body, state, next_at, created_at, updated_at) VALUES
		('okta', 'e1', 'user:Dana@Example.com', 'user.update', 4000, '{}', 'pending', 0, 0, 0),
		('okta', 'e2', 'user:EVE', 'user.disable', 4000, '{}', 'dead', 0, 0, 0),
		('okta', 'e3', 'user:EVE', 'user.enable', 3000, '{}', 'done', 0, 0, 0),
		('scim', 'e4', 'group:Ops', 'group.rename', 4000, '{}', 'pending', 0, 0, 0)`,
}

// MigrationFoldsSyncKeys checks migration 11 on db, a schema at migration 10: it writes
// syncKeysBefore, runs migrate (to 11), and checks that a name's spellings became its
// folded key with their latest mark, and that group keys and finished events were left
// as they were. Both backends' migration tests run it.
func MigrationFoldsSyncKeys(t *testing.T, db *sql.DB, migrate func() error) {
	t.Helper()
	for _, q := range syncKeysBefore {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	if err := migrate(); err != nil {
		t.Fatal(err)
	}
	var marks, keys []string
	for q, out := range map[string]*[]string{
		`SELECT key || ' ' || event_time FROM sync_marks ORDER BY key`:      &marks,
		`SELECT event_id || ' ' || order_key FROM sync_events ORDER BY seq`: &keys,
	} {
		rows, err := db.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			*out = append(*out, s)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			t.Fatal(err)
		}
	}
	// Sorted by bytes (ORDER BY is the column's collation; compare as Go does).
	slices.Sort(marks)
	wantMarks := []string{"group:Ops 8000", "user:dana@example.com 3000", "user:eve 5000", "user:frank 6000", "user:Éva 7000"}
	if !slices.Equal(marks, wantMarks) {
		t.Errorf("sync_marks after migrating:\n got %q\nwant %q", marks, wantMarks)
	}
	wantKeys := []string{"e1 user:dana@example.com", "e2 user:eve", "e3 user:EVE", "e4 group:Ops"}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("sync_events' keys after migrating:\n got %q\nwant %q", keys, wantKeys)
	}
}
