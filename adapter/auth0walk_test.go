package adapter

import (
	"runtime"
	"strings"
	"testing"
)

// TestAuth0WalkCost: the walk that told a customer's keys apart (an entry with
// keys differing only in case below its fields) built, for every key, the path above it
// as two new strings: a 1 MiB body of one long key (64 KiB) holding many short ones
// allocated 14 GB over 15 s of CPU, past the request's deadline; at the 4 MiB limit,
// hundreds of GB. Telling keys apart costs no more than the plain check's: a refused or
// read batch is held to 160 times its size.
func TestAuth0WalkCost(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	h := newSyncHarness(t)
	long := strings.Repeat("k", 16<<10)
	var b strings.Builder
	b.WriteString(`{"log_id":"w1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"walk@example.com",` +
		`"details":{"m":{"A":1,"a":1},"` + long + `":{`)
	for i := 0; b.Len() < 256<<10; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + itoa(i) + `":0`)
	}
	b.WriteString("}}}")
	body := b.String()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	code, out, _ := h.do("POST", Auth0Path, body, "Authorization", testSecret)
	runtime.ReadMemStats(&after)
	if code != 204 {
		t.Errorf("%d %v, want 204", code, out)
	}
	got := after.TotalAlloc - before.TotalAlloc
	if got > 160*uint64(len(body)) {
		t.Errorf("%d MB allocated for a body of %d KB, want at most 160 times its size", got>>20, len(body)>>10)
	}
	t.Logf("%.0f times the body's size", float64(got)/float64(len(body)))
}

// TestAuth0WalkNumbers: the walk read every value as encoding/json's Token
// does, a number as a float64, so a number past float64's range in a customer's data
// (which emfa never reads) refused the entry, but only when that entry also had keys
// differing in case: a signup lost. Such an entry is read, as one without those keys is.
func TestAuth0WalkNumbers(t *testing.T) {
	h := newSyncHarness(t)
	for i, details := range []string{`{"n":1e999}`, `{"m":{"A":1,"a":1},"n":1e999}`} {
		entry := `{"log_id":"n` + itoa(i) + `","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"num` + itoa(i) +
			`@example.com","details":` + details + `}`
		if code, out, _ := h.do("POST", Auth0Path, entry, "Authorization", testSecret); code != 204 {
			t.Errorf("details %s: %d %v, want 204", details, code, out)
		}
	}
}
