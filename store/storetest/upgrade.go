package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlstore"
)

// ProfilesAtRevisionZero checks that a user whose profile row is at revision 0 can be
// changed like any other. Such rows are not only those of users without a profile: the
// migration that added the revision (12) gave every existing row 0, and an emfa from
// before it, still running during a rolling upgrade, wrote its new rows at 0 (since
// migration 17 the database starts them at 1, and moves them on its changes:
// OldReplicaEdits). Revision 0 must then be a revision like the others: a change
// conditional on it applies once (the revision moves to 1, so the API's ETag moves) and
// then is stale, and a change without a condition applies. Refused, every such user was
// stuck: every admin update, import and directory change answered "changed" forever. The
// rows an old replica writes now are changed the same way from the revision they are at.
//
// db is a connection of its own to the database of the store open returns, at version 11
// (before migration 12); open migrates it to the current version.
func ProfilesAtRevisionZero(t *testing.T, db *sql.DB, open func(t *testing.T) store.Store) {
	t.Helper()
	ctx := t.Context()
	// oldProfile writes a user with a profile row and a group the way an emfa from before
	// migration 12 does: without naming the revision.
	oldProfile := func(t *testing.T, id string) {
		t.Helper()
		for _, q := range []string{
			`INSERT INTO users (id, name, disabled, created_at) VALUES ($1, 'name-' || $1, FALSE, 1000)`,
			`INSERT INTO user_profiles (user_id, email, phone, display_name, attributes, updated_at) VALUES ($1, $1 || '@example.com', '', 'Old ' || $1, '{}', 2000)`,
			`INSERT INTO user_groups (user_id, name) VALUES ($1, 'old')`,
		} {
			if _, err := db.ExecContext(ctx, q, id); err != nil {
				t.Fatalf("write user %s as an old emfa: %v", id, err)
			}
		}
	}
	// Users from before the upgrade, then (after it) users an old replica still writes.
	const each = 7
	var before, during []string
	for i := range each {
		before = append(before, fmt.Sprintf("pre%d", i))
		during = append(during, fmt.Sprintf("old%d", i))
	}
	for _, id := range before {
		oldProfile(t, id)
	}
	s := open(t)
	for _, id := range during {
		oldProfile(t, id)
	}

	now := at(time.Hour)
	rev := func(n int64) *int64 { return &n }
	profile := func(id string) *store.Profile {
		return &store.Profile{Email: id + "@new.example.com", DisplayName: "New " + id, Groups: []string{"new"}}
	}
	get := func(t *testing.T, id string) store.UserRecord {
		t.Helper()
		r, err := s.GetUserRecord(ctx, "name-"+id)
		if err != nil {
			t.Fatalf("GetUserRecord %s: %v", id, err)
		}
		return r
	}
	apply := func(t *testing.T, what string, cs ...store.UserChange) {
		t.Helper()
		for i, err := range s.ApplyUserChanges(ctx, cs) {
			if err != nil {
				t.Errorf("%s, user %s: %v", what, cs[i].Name, err)
			}
		}
	}
	// wantProfile: the change applied, once: its profile, revision want.
	wantProfile := func(t *testing.T, id string, want int64, p store.Profile, disabled bool) {
		t.Helper()
		r := get(t, id)
		if r.Profile.Revision != want || r.Profile.Email != p.Email || r.Profile.DisplayName != p.DisplayName ||
			fmt.Sprint(r.Profile.Groups) != fmt.Sprint(p.Groups) || r.Disabled != disabled || !r.Profile.UpdatedAt.Equal(now) {
			t.Errorf("user %s: revision %d, %q %q %v, disabled %v, updated %v; want revision %d, %q %q %v, disabled %v, updated %v",
				id, r.Profile.Revision, r.Profile.Email, r.Profile.DisplayName, r.Profile.Groups, r.Disabled, r.Profile.UpdatedAt,
				want, p.Email, p.DisplayName, p.Groups, disabled, now)
		}
	}

	for _, users := range []struct {
		name string
		ids  []string
		base int64 // the revision the users are at
	}{{"migrated", before, 0}, {"written by an old replica", during, 1}} {
		t.Run(users.name, func(t *testing.T) {
			ids, base := users.ids, users.base
			for _, id := range ids {
				if r := get(t, id); r.Profile.Revision != base || r.Profile.Email != id+"@example.com" {
					t.Fatalf("user %s as written: revision %d, email %q; want %d, %s@example.com", id, r.Profile.Revision, r.Profile.Email, base, id)
				}
			}
			old := func(id string) store.Profile {
				return store.Profile{Email: id + "@example.com", DisplayName: "Old " + id, Groups: []string{"old"}}
			}
			name := func(i int) string { return "name-" + ids[i] }

			// An update without a condition (PATCH without If-Match, sync) applies.
			apply(t, "unconditional update", store.UserChange{Name: name(0), Profile: profile(ids[0]), Now: now})
			wantProfile(t, ids[0], base+1, *profile(ids[0]), false)

			// An update on the revision read (PATCH with If-Match, an import): it
			// applies once; the same again is stale and changes nothing.
			apply(t, "update on the revision read", store.UserChange{Name: name(1), Profile: profile(ids[1]), Now: now, IfRevision: rev(base)})
			wantProfile(t, ids[1], base+1, *profile(ids[1]), false)
			again := store.UserChange{Name: name(1), Profile: &store.Profile{Email: "lost@example.com"}, Now: at(2 * time.Hour), IfRevision: rev(base)}
			if err := s.ApplyUserChanges(ctx, []store.UserChange{again})[0]; !errors.Is(err, store.ErrStale) {
				t.Errorf("a second update on revision %d: %v, want ErrStale", base, err)
			}
			wantProfile(t, ids[1], base+1, *profile(ids[1]), false)

			// A revision the row is not at is stale, and changes nothing.
			ahead := store.UserChange{Name: name(2), Profile: profile(ids[2]), Now: now, IfRevision: rev(base + 1)}
			if err := s.ApplyUserChanges(ctx, []store.UserChange{ahead})[0]; !errors.Is(err, store.ErrStale) {
				t.Errorf("an update on revision %d of a row at %d: %v, want ErrStale", base+1, base, err)
			}
			if r := get(t, ids[2]); r.Profile.Revision != base || r.Profile.Email != ids[2]+"@example.com" {
				t.Errorf("user %s after a stale update: revision %d, email %q; want it as it was", ids[2], r.Profile.Revision, r.Profile.Email)
			}

			// A disable on the revision read (If-Match) keeps the profile and moves the revision.
			apply(t, "disable on the revision read", store.UserChange{Name: name(3), Disabled: new(true), Now: now, IfRevision: rev(base)})
			wantProfile(t, ids[3], base+1, old(ids[3]), true)

			// A delete on the revision read (If-Match) deletes.
			apply(t, "delete on the revision read", store.UserChange{Name: name(4), Delete: true, Now: now, IfRevision: rev(base)})
			if _, err := s.GetUserRecord(ctx, name(4)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("user %s after a delete on revision %d: %v, want ErrNotFound", ids[4], base, err)
			}

			// A batch, as an import's chunk or a directory's: every change applies.
			apply(t, "batch on the revision read",
				store.UserChange{Name: name(5), Profile: profile(ids[5]), Now: now, IfRevision: rev(base)},
				store.UserChange{Name: name(6), Profile: profile(ids[6]), Now: now, IfRevision: rev(base)})
			wantProfile(t, ids[5], base+1, *profile(ids[5]), false)
			wantProfile(t, ids[6], base+1, *profile(ids[6]), false)
		})
	}
}

// Upgrades checks what opening a database says of its schema's version. db is a
// connection of its own to the database open opens, at version 11; open opens it (and
// migrates it), allowing a newer schema or not, with log as the store's log.
//
// The migrations an open applies are said once, at INFO, from which version to which and
// by name; an open with nothing to apply says nothing. A schema newer than the store's
// migrations (a newer emfa migrated it) is refused with what to do, unless allowed, when
// the store opens with a warning.
func Upgrades(t *testing.T, db *sql.DB, open func(t *testing.T, allowNewer bool, log *slog.Logger) (io.Closer, error)) {
	t.Helper()
	ctx := t.Context()
	opened := func(allowNewer bool) []slog.Record {
		t.Helper()
		var rec recorder
		s, err := open(t, allowNewer, slog.New(&rec))
		if err != nil {
			t.Fatalf("open (allowing a newer schema: %v): %v", allowNewer, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return rec.records()
	}
	// No record but of what was said about migrations: the store may log others.
	about := func(recs []slog.Record) []slog.Record {
		var out []slog.Record
		for _, r := range recs {
			if strings.Contains(r.Message, "schema") {
				out = append(out, r)
			}
		}
		return out
	}

	recs := about(opened(false))
	var latest int64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&latest); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("migrating from 11 to %d logged %d records about it, want 1: %v", latest, len(recs), recs)
	}
	r := recs[0]
	attrs := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	var names []string
	for v := int64(12); v <= latest; v++ {
		names = append(names, fmt.Sprintf("%05d_", v))
	}
	if r.Level != slog.LevelInfo || attrs["from"] != "11" || attrs["to"] != fmt.Sprint(latest) ||
		strings.Count(attrs["migrations"], ", ") != len(names)-1 || !strings.HasPrefix(attrs["migrations"], "00012_user_revision, 00013_") {
		t.Errorf("the record of the migrations: %v %q %v; want INFO, from 11 to %d, each of %v by name", r.Level, r.Message, attrs, latest, names)
	}
	for _, n := range names {
		if !strings.Contains(attrs["migrations"], n) {
			t.Errorf("the record of the migrations does not name migration %s: %q", n, attrs["migrations"])
		}
	}
	if recs := about(opened(false)); len(recs) != 0 {
		t.Errorf("an open with nothing to migrate logged %v, want nothing", recs)
	}

	// A newer emfa migrated it.
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, TRUE)`, latest+1); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, false, slog.New(&recorder{}))
	var newer *sqlstore.NewerSchemaError
	if !errors.As(err, &newer) || newer.Version != latest+1 || newer.Known != latest {
		t.Fatalf("open on a schema at %d, newer than the store's %d: %v; want a NewerSchemaError", latest+1, latest, err)
	}
	want := fmt.Sprintf("the database's schema is version %d, newer than this emfa's %d: this emfa is older than the one that "+
		"last migrated it; run that version or newer, or restore a backup taken before", latest+1, latest)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("open on a newer schema: %v\nwant it to say %q", err, want)
	}
	recs = about(opened(true))
	if len(recs) != 1 || recs[0].Level != slog.LevelWarn {
		t.Errorf("open on a newer schema, allowed: logged %v, want one warning", recs)
	}
	var now int64
	if err := db.QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&now); err != nil || now != latest+1 {
		t.Errorf("the schema's version after an allowed open: %d, %v; want it left at %d", now, err, latest+1)
	}
}

// recorder is a slog.Handler that keeps the records.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), r.recs...)
}

// OldReplicaEdits checks that the changes an emfa from before the user's revision
// (migration 12) makes, still running during a rolling upgrade, move the revision as a
// newer emfa's do, and that a newer emfa's changes move it once. An old replica writes the
// profile row on every change of a user without naming the revision; before the database
// kept the revision up itself, a change through a new replica on the revision it read
// (If-Match) then overwrote the old replica's edit without seeing it.
//
// db is a connection of its own to the database of the store open returns, at any version
// before the current one; open migrates it to the current version.
func OldReplicaEdits(t *testing.T, db *sql.DB, open func(t *testing.T) store.Store) {
	t.Helper()
	ctx := t.Context()
	s := open(t)
	rev := func(n int64) *int64 { return &n }
	get := func(t *testing.T, name string) store.UserRecord {
		t.Helper()
		r, err := s.GetUserRecord(ctx, name)
		if err != nil {
			t.Fatalf("GetUserRecord %s: %v", name, err)
		}
		return r
	}
	apply := func(t *testing.T, c store.UserChange) error {
		t.Helper()
		return s.ApplyUserChanges(ctx, []store.UserChange{c})[0]
	}
	// As an emfa from before migration 12 writes a user's profile row (sqlstore's
	// writeProfile then): the profile replaced, or, for a change of its state or factors
	// only, the row stamped.
	oldEdit := func(t *testing.T, id, email string, now int64) {
		t.Helper()
		if _, err := db.ExecContext(ctx,
			`INSERT INTO user_profiles (user_id, email, phone, display_name, attributes, updated_at) VALUES ($1, $2, '', '', '{}', $3)
			 ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, phone = excluded.phone,
			     display_name = excluded.display_name, attributes = excluded.attributes, updated_at = excluded.updated_at`,
			id, email, now); err != nil {
			t.Fatalf("edit user %s as an old replica: %v", id, err)
		}
	}
	oldStamp := func(t *testing.T, id string, now int64) {
		t.Helper()
		if _, err := db.ExecContext(ctx,
			`INSERT INTO user_profiles (user_id, updated_at) VALUES ($1, $2)
			 ON CONFLICT (user_id) DO UPDATE SET updated_at = excluded.updated_at`, id, now); err != nil {
			t.Fatalf("stamp user %s as an old replica: %v", id, err)
		}
	}
	// A new replica's If-Match change on what it read before the old replica's edit is
	// stale, and leaves that edit; on what it reads after, it applies, and moves the
	// revision by one.
	overtaken := func(t *testing.T, name string, read int64, wantEmail string) {
		t.Helper()
		r := get(t, name)
		if r.Profile.Revision != read+1 || r.Profile.Email != wantEmail {
			t.Fatalf("after the old replica's edit: revision %d, email %q; want %d, %q", r.Profile.Revision, r.Profile.Email, read+1, wantEmail)
		}
		lost := store.UserChange{Name: name, Profile: &store.Profile{Email: "lost@example.com"}, Now: at(time.Hour), IfRevision: rev(read)}
		if err := apply(t, lost); !errors.Is(err, store.ErrStale) {
			t.Errorf("a change on revision %d, read before the old replica's edit: %v, want ErrStale", read, err)
		}
		if r := get(t, name); r.Profile.Revision != read+1 || r.Profile.Email != wantEmail {
			t.Errorf("after a stale change: revision %d, email %q; want %d, %q", r.Profile.Revision, r.Profile.Email, read+1, wantEmail)
		}
		ok := store.UserChange{Name: name, Profile: &store.Profile{Email: "new@example.com"}, Now: at(time.Hour), IfRevision: rev(read + 1)}
		if err := apply(t, ok); err != nil {
			t.Errorf("a change on revision %d, read after the old replica's edit: %v", read+1, err)
		}
		if r := get(t, name); r.Profile.Revision != read+2 || r.Profile.Email != "new@example.com" {
			t.Errorf("after the change: revision %d, email %q; want %d (one more), new@example.com", r.Profile.Revision, r.Profile.Email, read+2)
		}
		// Without a condition, once too.
		if err := apply(t, store.UserChange{Name: name, Disabled: new(true), Now: at(2 * time.Hour)}); err != nil {
			t.Errorf("an unconditional change: %v", err)
		}
		if r := get(t, name); r.Profile.Revision != read+3 {
			t.Errorf("after an unconditional change: revision %d, want %d (one more)", r.Profile.Revision, read+3)
		}
	}

	t.Run("profile edited", func(t *testing.T) {
		u := newUser("edited")
		if err := apply(t, store.UserChange{Name: u.Name, Create: &u, Profile: &store.Profile{Email: "first@example.com"}, Now: at(0)}); err != nil {
			t.Fatal(err)
		}
		read := get(t, u.Name).Profile.Revision
		if read != 1 {
			t.Fatalf("a user created with a profile: revision %d, want 1", read)
		}
		oldEdit(t, u.ID, "old@example.com", millis(at(time.Minute)))
		overtaken(t, u.Name, read, "old@example.com")
	})
	t.Run("stamped", func(t *testing.T) {
		u := newUser("stamped")
		if err := apply(t, store.UserChange{Name: u.Name, Create: &u, Profile: &store.Profile{Email: "first@example.com"}, Now: at(0)}); err != nil {
			t.Fatal(err)
		}
		oldStamp(t, u.ID, millis(at(time.Minute)))
		overtaken(t, u.Name, 1, "first@example.com")
	})
	t.Run("first profile row", func(t *testing.T) {
		// A user without a profile row (CreateUser makes none) is at revision 0; an old
		// replica's change makes the row.
		u := newUser("rowless")
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if r := get(t, u.Name); r.Profile.Revision != 0 {
			t.Fatalf("a user without a profile row: revision %d, want 0", r.Profile.Revision)
		}
		oldEdit(t, u.ID, "old@example.com", millis(at(time.Minute)))
		overtaken(t, u.Name, 0, "old@example.com")
	})
}

func millis(t time.Time) int64 { return t.UnixMilli() }
