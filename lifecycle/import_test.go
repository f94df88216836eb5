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
	"github.com/emfa/emfa/store/sqlite"
)

// TestParseImportMax: ParseImportMax reads at most max rows, refused ones
// included (each costs a report line), blank lines not; one more is ErrTooManyRows.
func TestParseImportMax(t *testing.T) {
	for _, c := range []struct {
		name, format, text string
		tooMany            bool
	}{
		{"CSV at the bound", lifecycle.FormatCSV, "username\na\n\nb\n,,\nc\n", false},
		{"CSV one over", lifecycle.FormatCSV, "username\na\nb\nc\nd\n", true},
		{"CSV refused rows count", lifecycle.FormatCSV, "username\na\nb,x\nc\n\"d\n", true},
		{"JSON lines at the bound", lifecycle.FormatJSONL, `{"username":"a"}` + "\n\n" + `{"username":"b"}` + "\n[]\n", false},
		{"JSON lines one over", lifecycle.FormatJSONL, strings.Repeat("[]\n", 4), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, bad, err := lifecycle.ParseImportMax(strings.NewReader(c.text), c.format, 3)
			if c.tooMany {
				if !errors.Is(err, lifecycle.ErrTooManyRows) || rows != nil || bad != nil {
					t.Fatalf("err %v, want ErrTooManyRows", err)
				}
				return
			}
			if err != nil || len(rows)+len(bad) != 3 {
				t.Fatalf("%d rows, %d refused, %v; want 3 in all", len(rows), len(bad), err)
			}
		})
	}
}

// TestEmptyCSV: a CSV file without a header line is refused in words, not with
// Go's "EOF". Before: "no CSV header line: EOF".
func TestEmptyCSV(t *testing.T) {
	for _, text := range []string{"", "\n\n", "\r\n", "\ufeff"} {
		_, _, err := lifecycle.ParseImport(strings.NewReader(text), lifecycle.FormatCSV)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "invalid_file" || strings.Contains(le.Msg, "EOF") || !strings.Contains(le.Msg, "empty") {
			t.Errorf("%q: %v; want invalid_file saying the file is empty, not EOF", text, err)
		}
	}
}

// faultyInvites is a store that fails, as a database gone away, to read the user bob and
// to reserve any send.
type faultyInvites struct {
	*sqlite.Store
}

var errGone = errors.New("dial tcp 10.1.2.3:5432: connect: connection refused")

func (s faultyInvites) GetUserRecord(ctx context.Context, name string) (store.UserRecord, error) {
	if name == "bob" {
		return store.UserRecord{}, errGone
	}
	return s.Store.GetUserRecord(ctx, name)
}

func (s faultyInvites) ReserveSend(context.Context, []string, []store.SendLimit, time.Time) error {
	return errGone
}

// TestInviteFaultWorded: an import's invite that a store fault stopped says so
// on its row, in the API's words, not the driver's. Before, bob's row (the user not read
// back) said nothing at all, created and neither invited nor refused, and alice's held
// the driver's text, an address of the database included.
func TestInviteFaultWorded(t *testing.T) {
	st := testdb.SQLite(t).(*sqlite.Store)
	m, _ := newManager(t, faultyInvites{st})
	rows, bad, err := lifecycle.ParseImport(strings.NewReader("username,email\nalice,alice@example.com\nbob,bob@example.com\n"), lifecycle.FormatCSV)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Import(context.Background(), "cli", rows, bad, lifecycle.ImportOptions{})
	if err != nil || rep.Created != 2 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	mailedSelfService(t, m, nullSender{}).InviteImported(context.Background(), "cli", &rep)
	for _, r := range rep.Rows {
		if r.InviteError == nil || r.InviteError.Code != "link_not_sent" || strings.Contains(r.InviteError.Msg, "dial tcp") {
			t.Errorf("%s: invited %q, invite error %+v; want link_not_sent in the API's words", r.Username, r.Invited, r.InviteError)
		}
	}
}

// TestDuplicateAfterUnreadableRow: a user named again after a row of theirs that
// could not be read is refused duplicate_row, as after a row that could: the file names
// the user twice, and which row is meant is the file's author's to say. Before, the
// second row was applied as if it were the user's only one.
func TestDuplicateAfterUnreadableRow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		rows, bad := parse(t, lifecycle.FormatJSONL, `{"username":"bob","phone":15550100}`+"\n"+`{"username":"BOB","phone":"+15555550100"}`+"\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil || rep.Created != 0 || rep.Refused != 2 {
			t.Fatalf("import: %s, %v; want both rows refused", summary(rep), err)
		}
		for _, r := range rep.Rows {
			if r.Line == 2 && (r.Error == nil || r.Error.Code != "duplicate_row") {
				t.Errorf("line 2: %+v, want duplicate_row", r)
			}
		}
		if _, err := m.GetUser(ctx, "bob"); err == nil {
			t.Error("bob was created from the second of its two rows")
		}
		// The other way round, the first row is read and applied; the second is refused
		// as it could not be read.
		rows, bad = parse(t, lifecycle.FormatJSONL, `{"username":"carol","phone":"+15555550101"}`+"\n"+`{"username":"carol","phone":15550101}`+"\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 || rep.Refused != 1 {
			t.Errorf("import, the unreadable row second: %s, %v; want carol created, the second row refused", summary(rep), err)
		}
	})
}
