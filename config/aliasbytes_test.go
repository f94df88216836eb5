package config

import (
	"runtime"
	"strings"
	"testing"
)

// aliasBomb is a configuration of 60 kB whose aliases of aliases repeat one long key or
// one long value some 30,000 times: within the bound on values (100,000), each copy is
// 60 kB.
func aliasBomb(anchor string) string {
	var b strings.Builder
	b.WriteString(minimalYAML)
	b.WriteString("delivery:\n  a: &a\n" + anchor + "  b: &b [")
	for i := range 300 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*a")
	}
	b.WriteString("]\n  c: [")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("*b")
	}
	b.WriteString("]\n")
	return b.String()
}

// TestAliasBombOfLongKeysRefused: aliases that repeat a long key or a long value
// are refused by the bytes they expand to, not only by their count: 60 kB of YAML took
// 2 GB and 18 s (the path of every copy of a long key kept for its line), or 3.8 GB and
// 4 s (a long value), before the bound of 100,000 values stopped it or the checks
// refused it. emfa check, serve and replay (a transcript's configuration) read it.
func TestAliasBombOfLongKeysRefused(t *testing.T) {
	long := strings.Repeat("k", 60000)
	for name, anchor := range map[string]string{
		"long key":   "    ? " + long + "\n    : 1\n",
		"long value": "    {body: \"" + long + "\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			doc := aliasBomb(anchor)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Parse([]byte(doc), "yaml", env(nil))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), "expands to more than") {
				t.Errorf("%d bytes of YAML: %.200v, want a refusal of what it expands to", len(doc), err)
			}
			t.Logf("%d MiB allocated", (after.TotalAlloc-before.TotalAlloc)>>20)
			if got := after.TotalAlloc - before.TotalAlloc; !raceEnabled && got > 256<<20 {
				t.Errorf("%d bytes of YAML allocated %d MiB", len(doc), got>>20)
			}
		})
	}
	// A configuration of large values, each written once, is not refused for its size.
	pem := strings.Repeat("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", 2000) // 88 kB
	y := minimalYAML + "server: {tls: {clientCA: \"" + pem + "\", cert: c, key: k}}\n"
	y = strings.Replace(y, "server:\n  auth:", "x-ignored:\n  auth:", 1)
	if _, err := Parse([]byte(y), "yaml", env(nil)); err != nil && strings.Contains(err.Error(), "expands") {
		t.Errorf("a large value refused: %.200v", err)
	}
}
