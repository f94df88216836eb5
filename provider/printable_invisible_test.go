package provider_test

import (
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestPrintableEscapesInvisibleAndBidi: what goes into a log line or an audit row (a
// username from Verify, a name a refusal quotes) shows a bidirectional control, an
// invisible format character and a line separator as its escape, so that "alice" and
// "alice" with a ZERO WIDTH SPACE read apart in the trail, and U+202E cannot turn the rest
// of the line around. Right-to-left text and combining marks are text, and stay.
func TestPrintableEscapesInvisibleAndBidi(t *testing.T) {
	for in, want := range map[string]string{
		"alice\u200b":        `alice\u200b`,
		"admin\u202egnp.exe": `admin\u202egnp.exe`,
		"\u2066x\u2069":      `\u2066x\u2069`,
		"a\u200eb\u200fc":    `a\u200eb\u200fc`,
		"\ufeffbob":          `\ufeffbob`,
		"a\u2060b\u00adc":    `a\u2060b\u00adc`,
		"line\u2028two":      `line\u2028two`,
		"x\u061cy":           `x\u061cy`,
		"אליס":               "אליס",
		"jose\u0301":         "jose\u0301",
		"山田":                 "山田",
	} {
		if got := provider.Printable(in, 256); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	// Cut at the limit by whole escapes, as a control character's.
	if got := provider.Printable("ab\u202e", 7); got != "ab…[truncated]" {
		t.Errorf("Printable cut: %q", got)
	}
}
