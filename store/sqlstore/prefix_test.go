package sqlstore

import (
	"strings"
	"testing"
)

// TestPrefixEnd: every text starting with p sorts (bytes) at or after p and
// before prefixEnd(p); the texts between are those.
func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ p, end string }{
		{"ал", "ам"},
		{"a", "b"},
		{"a\U0010FFFF", "b"},
		{"a\uD7FF", "a\uE000"},
		{"\U0010FFFF\U0010FFFF", ""},
		{"", ""},
	} {
		end, ok := prefixEnd(c.p)
		if end != c.end || ok != (c.end != "") {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q", c.p, end, ok, c.end)
		}
		if !ok {
			continue
		}
		for _, s := range []string{c.p, c.p + "\x00", c.p + "z", c.p + "\U0010FFFF", c.p + "\U0010FFFF\U0010FFFF"} {
			if s < c.p || s >= end {
				t.Errorf("%q starts with %q, outside [%q, %q)", s, c.p, c.p, end)
			}
		}
		if strings.HasPrefix(end, c.p) {
			t.Errorf("prefixEnd(%q) = %q starts with it", c.p, end)
		}
	}
}
