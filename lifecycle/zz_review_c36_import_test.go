package lifecycle_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestReviewC36ParseImportMax: ParseImportMax reads at most max rows, refused ones
// included (each costs a report line), blank lines not; one more is ErrTooManyRows.
func TestReviewC36ParseImportMax(t *testing.T) {
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

// TestReviewC36EmptyCSV: a CSV file without a header line is refused in words, not with
// Go's "EOF". Before: "no CSV header line: EOF".
func TestReviewC36EmptyCSV(t *testing.T) {
	for _, text := range []string{"", "\n\n", "\r\n", "\ufeff"} {
		_, _, err := lifecycle.ParseImport(strings.NewReader(text), lifecycle.FormatCSV)
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "invalid_file" || strings.Contains(le.Msg, "EOF") || !strings.Contains(le.Msg, "empty") {
			t.Errorf("%q: %v; want invalid_file saying the file is empty, not EOF", text, err)
		}
	}
}
