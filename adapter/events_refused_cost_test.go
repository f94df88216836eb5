package adapter

import (
	"runtime"
	"strings"
	"testing"
)

// TestRefusedEntriesCostBounded: a batch of entries that are all refused (tiny
// JSON lines that are no log entry, an Okta batch of empty events or of numbers) costs
// no more than a batch of read entries of its size does once queued. A 4 MiB body of "0"
// lines, each refused, allocated 6 GB over 10 s of CPU (a json.Decoder's buffer, an
// error and a reason kept for each of two million entries, of which the log lists
// twenty), past the request's 10 s deadline, with the contract's calls beside it: 1,500
// times its size. A body of 2-byte entries has a slice entry of 24 bytes and a decoding
// of some hundred bytes each: at most 160 times its size.
func TestRefusedEntriesCostBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	h := newSyncHarness(t)
	const size = 1 << 20
	for _, tc := range []struct{ name, path, body, hdr string }{
		{"auth0 numbers", Auth0Path, strings.Repeat("0\n", size/2), "Authorization"},
		{"auth0 empty objects", Auth0Path, strings.Repeat("{}\n", size/3), "Authorization"},
		{"auth0 array of numbers", Auth0Path, "[" + strings.Repeat("0,", size/2) + "0]", "Authorization"},
		{"okta empty events", OktaPath, `{"data":{"events":[` + strings.Repeat("{},", size/3) + `{}]}}`, "X-Okta-Secret"},
		{"okta numbers", OktaPath, `{"data":{"events":[` + strings.Repeat("0,", size/2) + `0]}}`, "X-Okta-Secret"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, body, _ := h.do("POST", tc.path, tc.body, tc.hdr, testSecret)
		runtime.ReadMemStats(&after)
		if code != 400 {
			t.Errorf("%s: %d %v, want 400", tc.name, code, body)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 160*uint64(len(tc.body)) {
			t.Errorf("%s: %d MB allocated for a body of %d KB, want at most 160 times its size", tc.name, got>>20, len(tc.body)>>10)
		}
	}
}
