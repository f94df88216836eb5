package textpos

import "testing"

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		text         string
		offset       int
		line, column int
	}{
		{"", 0, 1, 1},
		{"abc", 0, 1, 1},
		{"abc", 2, 1, 3},
		{"abc", 3, 1, 4},              // just after the last character
		{"abc", 9, 1, 4},              // past the end: the end
		{"abc", -1, 1, 1},             // before the start: the start
		{"a\nb", 1, 1, 2},             // the newline itself is on its line
		{"a\nb", 2, 2, 1},             // the character after it begins the next
		{"a\n\n\nb", 4, 4, 1},         // empty lines count
		{"é\nxé!", 6, 2, 3},           // characters, not bytes: é is two
		{"\"日本\": 1", 7, 1, 4},        // three bytes a character: the closing quote
		{"a\r\nb", 2, 1, 3},           // \r is a character of its line
		{"a\r\nb", 3, 2, 1},           // \n alone ends a line
		{"\xff\xfeab", 3, 1, 4},       // each byte not UTF-8 is one character
		{"{\n  \"k\": x\n}", 9, 2, 8}, // the x of "k": x
	} {
		line, column := Of([]byte(tc.text), tc.offset)
		if line != tc.line || column != tc.column {
			t.Errorf("Of(%q, %d) = %d, %d, want %d, %d", tc.text, tc.offset, line, column, tc.line, tc.column)
		}
	}
}
