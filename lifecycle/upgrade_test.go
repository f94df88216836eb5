package lifecycle_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

// A user whose profile row an emfa from before the user's revision wrote (at revision 0:
// every user of a database upgraded past migration 12, and the users an old replica
// wrote during a rolling upgrade before migration 17) is managed like any other: an update with or without
// If-Match, an If-Match disable and delete, and an import apply, and the revision (the
// API's ETag) moves. They were refused as changed forever.
func TestUsersWrittenByAnOldEmfa(t *testing.T) {
	for _, b := range []struct {
		name string
		open func(t *testing.T) (store.Store, func(q string, args ...any) error)
	}{
		{"sqlite", func(t *testing.T) (store.Store, func(string, ...any) error) {
			path := filepath.Join(t.TempDir(), "emfa.db")
			st, err := sqlite.Open(t.Context(), "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			exec := func(q string, args ...any) error {
				_, err := db.ExecContext(context.Background(), q, args...)
				return err
			}
			return st, exec
		}},
		{"postgres", func(t *testing.T) (store.Store, func(string, ...any) error) {
			sv := testdb.Connect(t)
			dsn := sv.SchemaDSN(t, sv.NewSchema(t))
			st, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			pool, err := pgxpool.New(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			exec := func(q string, args ...any) error {
				_, err := pool.Exec(context.Background(), q, args...)
				return err
			}
			return st, exec
		}},
	} {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			st, exec := b.open(t)
			m, _ := newManager(t, st)
			for _, name := range []string{"patch", "ifmatch", "disable", "delete", "import"} {
				for _, q := range []string{
					`INSERT INTO users (id, name, disabled, created_at) VALUES ($1, $1, FALSE, 1000)`,
					// As an emfa from before migration 12 writes it: no revision named.
					`INSERT INTO user_profiles (user_id, email, phone, display_name, attributes, updated_at) VALUES ($1, $1 || '@example.com', '', '', '{}', 2000)`,
					// The database starts such a row at 1 since migration 17; migration 12
					// left the rows from before it at 0.
					`UPDATE user_profiles SET revision = 0 WHERE user_id = $1`,
				} {
					if err := exec(q, name); err != nil {
						t.Fatalf("write %s as an old emfa: %v", name, err)
					}
				}
			}
			revision := func(name string) int64 {
				t.Helper()
				u, err := m.GetUser(ctx, name)
				if err != nil {
					t.Fatalf("GetUser %s: %v", name, err)
				}
				return u.Revision
			}
			if r := revision("patch"); r != 0 {
				t.Fatalf("revision of a user an old emfa wrote: %d, want 0", r)
			}
			email := func(s string) *string { return &s }
			zero := int64(0)

			// PATCH without If-Match.
			if u, err := m.UpdateUser(ctx, "test", "patch", lifecycle.UserInput{Email: email("new@example.com")}); err != nil || u.Email != "new@example.com" {
				t.Errorf("update: %+v, %v", u, err)
			}
			// PATCH with If-Match on the ETag read (revision 0).
			if u, err := m.UpdateUser(ctx, "test", "ifmatch", lifecycle.UserInput{Email: email("new@example.com"), IfRevision: &zero}); err != nil || u.Email != "new@example.com" {
				t.Errorf("update on revision 0: %+v, %v", u, err)
			}
			// If-Match disable and delete.
			if u, err := m.SetUserStateAt(ctx, "test", "disable", true, "", 0); err != nil || u.State != lifecycle.StateName(true) {
				t.Errorf("disable on revision 0: %+v, %v", u, err)
			}
			if err := m.DeleteUserAt(ctx, "test", "delete", "", new(int64)); err != nil {
				t.Errorf("delete on revision 0: %v", err)
			}
			// An import that changes the user.
			rows, bad := parse(t, lifecycle.FormatCSV, "username,email\nimport,new@example.com\n")
			rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
			if err != nil || summary(rep) != "0 created, 1 updated, 0 unchanged, 0 deleted, 0 refused" {
				t.Errorf("import: %s, %v, rows %+v", summary(rep), err, rep.Rows)
			}
			for _, name := range []string{"patch", "ifmatch", "disable", "import"} {
				if r := revision(name); r != 1 {
					t.Errorf("revision of %s after its change: %d, want 1 (the ETag moves)", name, r)
				}
			}
			if _, err := m.GetUser(ctx, "delete"); err == nil {
				t.Error("the user deleted on revision 0 is still there")
			}
		})
	}
}
