package provider_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

func TestCheckIdentifier(t *testing.T) {
	for s, ok := range map[string]bool{
		"alice": true, "alice@example.com": true, "São Paulo": true, strings.Repeat("é", 64): true,
		"a\x00": false, "a\nb": false, "a\u0085": false, "\xff": false, strings.Repeat("a", 129): false,
	} {
		if got := provider.CheckIdentifier("id", s, 128) == ""; got != ok {
			t.Errorf("CheckIdentifier(%.20q) ok = %v, want %v", s, got, ok)
		}
	}
}

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"alice":                  "alice",
		"a\x00b":                 `a\x00b`,
		"a\nforged":              `a\x0aforged`,
		"a\u0085":                `a\x85`,
		"a\xffb":                 `a\xffb`,
		strings.Repeat("x", 300): strings.Repeat("x", 256) + "…[truncated]",
		strings.Repeat("é", 200): strings.Repeat("é", 128) + "…[truncated]",
	} {
		if got := provider.Printable(in, 256); got != want {
			t.Errorf("Printable(%.20q) = %.40q, want %.40q", in, got, want)
		}
	}
}
