package lifecycle_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// A file saved with a UTF-8 byte order mark is read as without one: PowerShell's
// Export-Csv (Windows PowerShell 5.1, -Encoding UTF8) writes the mark and quotes every
// field, header included; Notepad and Out-File save JSON lines with the mark.
func TestImportByteOrderMark(t *testing.T) {
	for _, c := range []struct{ name, format, text string }{
		{"csv, quoted header", lifecycle.FormatCSV, "\ufeff\"username\",\"email\"\r\n\"alice\",\"a@example.com\"\r\n\"bob\",\"b@example.com\"\r\n"},
		{"csv, plain header", lifecycle.FormatCSV, "\ufeffusername,email\r\nalice,a@example.com\r\nbob,b@example.com\r\n"},
		{"jsonl", lifecycle.FormatJSONL, "\ufeff{\"username\":\"alice\",\"email\":\"a@example.com\"}\r\n\r\n{\"username\":\"bob\",\"email\":\"b@example.com\"}\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, bad, err := lifecycle.ParseImport(strings.NewReader(c.text), c.format)
			if err != nil || len(bad) != 0 || len(rows) != 2 {
				t.Fatalf("rows %+v, refused %+v, %v; want alice and bob", rows, bad, err)
			}
			if rows[0].Username != "alice" || rows[0].Email != "a@example.com" || rows[0].Line != 1+btoi(c.format == lifecycle.FormatCSV) ||
				rows[1].Username != "bob" {
				t.Errorf("rows %+v", rows)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Excel writes a column a formatted but empty cell reaches as an empty field on every
// line, header included ("username,email,,"): such a file is read as without those
// columns, and a row with something in a column the header does not name is refused,
// saying which column.
func TestImportEmptyTrailingColumns(t *testing.T) {
	rows, bad, err := lifecycle.ParseImport(strings.NewReader("username,email,,\r\nalice,a@example.com,,\r\nbob,b@example.com,,x\r\n"), lifecycle.FormatCSV)
	if err != nil || len(rows) != 1 || rows[0].Username != "alice" || rows[0].Email != "a@example.com" || rows[0].Line != 2 {
		t.Fatalf("rows %+v, refused %+v, %v; want alice read", rows, bad, err)
	}
	if len(bad) != 1 || bad[0].Line != 3 || bad[0].Error == nil || !strings.Contains(bad[0].Error.Msg, "column 4") {
		t.Errorf("refused %+v; want line 3 refused for column 4", bad)
	}
}

// A file whose lines end in a carriage return alone (Excel for Mac's "CSV (Macintosh)")
// reads as one line to encoding/csv: it is refused saying so, not as a header of unknown
// columns such as "email\ralice".
func TestImportCarriageReturnLines(t *testing.T) {
	_, _, err := lifecycle.ParseImport(strings.NewReader("username,email\ralice,a@example.com\rbob,b@example.com\r"), lifecycle.FormatCSV)
	var le *lifecycle.Error
	if !errors.As(err, &le) || le.Code != "invalid_file" || !strings.Contains(le.Msg, "carriage return") {
		t.Errorf("%v; want invalid_file saying the lines end in a carriage return", err)
	}
}
