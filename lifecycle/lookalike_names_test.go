package lifecycle_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// lookAlikeNames are names that look like another's, or garble the line they are shown
// on, each with what its refusal must name: the code point and the character's position.
var lookAlikeNames = []struct{ name, want string }{
	{"alice\u200b", "an invisible character, U+200B, at character 6"},
	{"al\u200cice", "an invisible character, U+200C, at character 3"},
	{"al\u200dice", "an invisible character, U+200D, at character 3"},
	{"ali\u2060ce", "an invisible character, U+2060, at character 4"},
	{"\ufeffalice", "an invisible character, U+FEFF, at character 1"},
	{"alice\u202a", "a bidirectional control, U+202A, at character 6"},
	{"admin\u202egnp.exe", "a bidirectional control, U+202E, at character 6"},
	{"\u2066alice\u2069", "a bidirectional control, U+2066, at character 1"},
	{"alice\u2068", "a bidirectional control, U+2068, at character 6"},
	{"alice\u200e", "a bidirectional control, U+200E, at character 6"},
	{"alice\u200f", "a bidirectional control, U+200F, at character 6"},
	{"ali\u061cce", "a bidirectional control, U+061C, at character 4"},
	{"alice\u00a0smith", "a space other than U+0020, U+00A0, at character 6"},
	{"ali\u2028ce", "a line or paragraph separator, U+2028, at character 4"},
	{"ali\u00adce", "an invisible character, U+00AD, at character 4"},
	{"alice\u3164", "an invisible character, U+3164, at character 6"},
	{"jos\u00e9\u200b", "an invisible character, U+200B, at character 5"},
	{"jose\u0301", "at character 4, U+0065 U+0301 is U+00E9 in NFC; send the name as \"jos\u00e9\""},
	{"A\u030angstr\u00f6m", "at character 1, U+0041 U+030A is U+00C5 in NFC"},
}

// TestNewUserNameRefusesLookAlikes: a user created under a name with an invisible or
// bidirectional control character, or not in NFC, is refused, with the code point and
// its position; the creation checked first (a SCIM POST's CheckCreate) too. Names of
// any script in NFC, with a plain space, are created.
func TestNewUserNameRefusesLookAlikes(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, testdb.Memory(t))
	for _, tc := range lookAlikeNames {
		_, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: tc.name})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Kind != lifecycle.Invalid || le.Field != "name" || !strings.Contains(le.Msg, tc.want) {
			t.Errorf("create %q: %v, want a refusal of the name saying %q", tc.name, err, tc.want)
		}
		if err := m.CheckCreate(ctx, "test", tc.name); !errors.As(err, &le) || !strings.Contains(le.Msg, tc.want) {
			t.Errorf("check the creation of %q: %v, want a refusal saying %q", tc.name, err, tc.want)
		}
		if _, err := m.GetUser(ctx, tc.name); err == nil {
			t.Errorf("%q was created", tc.name)
		}
	}
	for _, name := range []string{"jos\u00e9", "\u00c5ngstr\u00f6m", "\u05d0\u05dc\u05d9\u05e1", "\u5c71\u7530", "alice smith", "dana@example.com", "\U0001f600"} {
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
			t.Errorf("create %q: %v", name, err)
		}
	}
}

// TestImportRefusesLookAlikeNewNames: an import row that would create a user under such
// a name is refused, the others of the file applied.
func TestImportRefusesLookAlikeNewNames(t *testing.T) {
	ctx := context.Background()
	m, _ := newManager(t, testdb.Memory(t))
	file := "username,email\nalice\u200b,a@example.com\njose\u0301,j@example.com\nbob,b@example.com\n"
	rows, bad := parse(t, lifecycle.FormatCSV, file)
	rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || rep.Refused != 2 {
		t.Fatalf("%s, want 1 created and 2 refused: %+v", summary(rep), rep.Rows)
	}
	for _, r := range rep.Rows {
		if r.Username == "bob" {
			continue
		}
		if r.Error == nil || r.Error.Field != "username" || !strings.Contains(r.Error.Msg, "character") {
			t.Errorf("row %d (%q): %+v %+v, want its username refused", r.Line, r.Username, r, r.Error)
		}
	}
}

// TestStoredLookAlikeNamesKeepWorking: a user stored before the rule under a name it
// refuses is found, updated, imported, disabled and deleted by that name as before, and
// a creation of its name is answered that it exists (so that a directory's creation of
// it applies as its update), not that the name is refused.
func TestStoredLookAlikeNamesKeepWorking(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		names := []string{"alice\u200b", "jose\u0301", "eve\u202e"}
		for i, name := range names {
			u := store.User{ID: "legacy" + string(rune('a'+i)), Name: name, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
			if err := st.ApplyUserChanges(ctx, []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range names {
			if u, err := m.GetUser(ctx, name); err != nil || u.Name != name {
				t.Errorf("get %q: %+v %v", name, u, err)
			}
			email := "x@example.com"
			if _, err := m.UpdateUser(ctx, "test", name, lifecycle.UserInput{Email: &email}); err != nil {
				t.Errorf("update %q: %v", name, err)
			}
			if _, err := m.SetUserState(ctx, "test", name, true); err != nil {
				t.Errorf("disable %q: %v", name, err)
			}
			_, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name})
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != "user_exists" {
				t.Errorf("create %q again: %v, want user_exists", name, err)
			}
			if err := m.CheckCreate(ctx, "test", name); !errors.As(err, &le) || le.Code != "user_exists" {
				t.Errorf("check the creation of %q: %v, want user_exists", name, err)
			}
		}
		rows, bad := parse(t, lifecycle.FormatJSONL, `{"username":"alice\u200b","email":"new@example.com"}`+"\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil || rep.Updated != 1 {
			t.Errorf("import of alice\\u200b's row: %s %v %+v", summary(rep), err, rep.Rows)
		}
		for _, name := range names {
			if err := m.DeleteUser(ctx, "test", name); err != nil {
				t.Errorf("delete %q: %v", name, err)
			}
		}
	})
}

// TestAuditOfStoredLookAlikeName: the audit trail writes a stored user's invisible
// character escaped, so that its rows do not read as another user's ("alice"), and
// `?user=` given the name as stored finds them.
func TestAuditOfStoredLookAlikeName(t *testing.T) {
	ctx := context.Background()
	st := testdb.Memory(t)
	m, _ := newManager(t, st)
	addAlice(t, m)
	const name = "alice\u200b"
	u := store.User{ID: "legacy1", Name: name, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	if err := st.ApplyUserChanges(ctx, []store.UserChange{{Name: name, Create: &u, Now: u.CreatedAt}})[0]; err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetUserState(ctx, "test", name, true); err != nil {
		t.Fatal(err)
	}
	page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: name})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].User != `alice\u200b` {
		t.Errorf("audit of %q: %+v, want its one row, the user written alice\\u200b", name, page.Events)
	}
	if page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "alice"}); err != nil || len(page.Events) != 1 || page.Events[0].User != "alice" {
		t.Errorf("audit of alice: %+v %v, want her creation alone", page.Events, err)
	}
}
