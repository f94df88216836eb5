package provider_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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

// TestCheckIdentifierEveryByte holds CheckIdentifier's printable-ASCII shortcut to the
// rule it shortcuts (valid UTF-8, no control character): every byte alone and amid ASCII
// (DEL and the C1 controls included), and random strings over ASCII, Latin-1 bytes and
// runes beyond.
func TestCheckIdentifierEveryByte(t *testing.T) {
	rule := func(s string) bool {
		return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
	}
	var cases []string
	for b := range 256 {
		cases = append(cases, string([]byte{byte(b)}), "ab"+string([]byte{byte(b)})+"cd")
	}
	alphabet := []string{"a", "Z", " ", "~", "\x7f", "\x1f", "\x80", "\xc3", "\xa9", "é", "\u0085", "\u2028", "€", "\x00"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := provider.CheckIdentifier("id", s, 128) == "", rule(s); got != want {
			t.Fatalf("CheckIdentifier(%q) ok = %v, want %v", s, got, want)
		}
	}
}

func BenchmarkCheckIdentifier(b *testing.B) {
	for _, s := range []string{"alice", "alice@example.com", "São Paulo"} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				if provider.CheckIdentifier("username", s, 128) != "" {
					b.Fatal("refused")
				}
			}
		})
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
