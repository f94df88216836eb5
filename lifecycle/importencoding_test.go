package lifecycle_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/emfa/emfa/lifecycle"
)

// utf16LE is text as Windows PowerShell's > and Out-File save it: UTF-16, little-endian.
func utf16LE(s string, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xff, 0xfe)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

func utf16BE(s string) string {
	b := []byte{0xfe, 0xff}
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return string(b)
}

// A UTF-16 file (PowerShell's `>` or Out-File) or a tab-separated one (Excel's "Text (Tab
// delimited)") was refused as `unknown column "\xff\xfeu\x00s\x00…"` or `unknown column
// "username\temail"`, and a UTF-16 JSON lines file as a refusal of every line: nothing
// said what the file is or how to save it. Now the refusal says so.
func TestImportEncodingAndTabs(t *testing.T) {
	csvText := "username,email\nalice,a@example.com\n"
	jsonText := `{"username":"alice","email":"a@example.com"}` + "\n"
	for _, c := range []struct{ name, format, text, want string }{
		{"csv utf-16le with bom", lifecycle.FormatCSV, utf16LE(csvText, true), "UTF-16"},
		{"csv utf-16le without bom", lifecycle.FormatCSV, utf16LE(csvText, false), "UTF-16"},
		{"csv utf-16be", lifecycle.FormatCSV, utf16BE(csvText), "UTF-16"},
		{"jsonl utf-16le", lifecycle.FormatJSONL, utf16LE(jsonText, true), "UTF-16"},
		{"tab-separated", lifecycle.FormatCSV, "username\temail\nalice\ta@example.com\n", "separated by tabs"},
		{"tab-separated, quoted", lifecycle.FormatCSV, "\"username\"\t\"email\"\nalice\ta@example.com\n", "separated by tabs"},
		{"tab-separated utf-8 bom", lifecycle.FormatCSV, "\ufeffusername\temail\nalice\ta@example.com\n", "separated by tabs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rows, bad, err := lifecycle.ParseImport(strings.NewReader(c.text), c.format)
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != "invalid_file" || !strings.Contains(le.Msg, c.want) {
				t.Fatalf("%d rows, %d refused, %v: want invalid_file saying %q", len(rows), len(bad), err, c.want)
			}
			if !strings.Contains(le.Msg, "UTF-8") || !strings.Contains(le.Msg, "comma") && c.format == lifecycle.FormatCSV {
				t.Errorf("%q does not say how to save the file (UTF-8, comma-separated)", le.Msg)
			}
			if strings.ContainsRune(le.Msg, 0) {
				t.Errorf("the message holds a NUL byte: %q", le.Msg)
			}
		})
	}
	// A tab inside a field of a comma-separated file is no reason to refuse it.
	rows, bad, err := lifecycle.ParseImport(strings.NewReader("username,displayName\nalice,\"Alice\tA\"\n"), lifecycle.FormatCSV)
	if err != nil || len(rows) != 1 || len(bad) != 0 {
		t.Errorf("a tab inside a field: %d rows, %v refused, %v", len(rows), bad, err)
	}
}
