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
// times its size.
//
// Counted with testing.AllocsPerRun, so that .ci/run's stage of allocation tests, which
// runs without the race detector the files that count with it, runs this one: measured
// with runtime.MemStats alone, it was skipped under -race and run nowhere else.
func TestRefusedEntriesCostBounded(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	h := newSyncHarness(t)
	const size = 1 << 20
	// Bounds a little above what each costs now; before the fixes of session 74 (Auth0's
	// "{}" lines) and of the sessions before it, each was tens to hundreds of times more.
	for _, tc := range []struct {
		name, path, body, hdr string
		entries               int
		allocs, bytes         float64 // at most, an entry and a byte of body
	}{
		// Read in place: the body's copy and the answer alone (2.1 bytes a byte).
		{"auth0 numbers", Auth0Path, strings.Repeat("0\n", size/2), "Authorization", size / 2, 0.01, 4},
		{"auth0 empty objects", Auth0Path, strings.Repeat("{}\n", size/3), "Authorization", size / 3, 0.01, 4},
		// Each entry copied out of the array (1, 68).
		{"auth0 array of numbers", Auth0Path, "[" + strings.Repeat("0,", size/2) + "0]", "Authorization", size/2 + 1, 1.5, 100},
		// Each event copied out of the envelope by its decoder (2, 52; 6, 124).
		{"okta empty events", OktaPath, `{"data":{"events":[` + strings.Repeat("{},", size/3) + `{}]}}`, "X-Okta-Secret", size/3 + 1, 3, 80},
		{"okta numbers", OktaPath, `{"data":{"events":[` + strings.Repeat("0,", size/2) + `0]}}`, "X-Okta-Secret", size/2 + 1, 8, 160},
	} {
		var code int
		var bytes uint64
		allocs := testing.AllocsPerRun(1, func() {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			code, _, _ = h.do("POST", tc.path, tc.body, tc.hdr, testSecret)
			runtime.ReadMemStats(&after)
			bytes = after.TotalAlloc - before.TotalAlloc
		})
		if code != 400 {
			t.Errorf("%s: %d, want 400", tc.name, code)
		}
		if per := allocs / float64(tc.entries); per > tc.allocs {
			t.Errorf("%s: %.2f allocations an entry, want at most %g", tc.name, per, tc.allocs)
		}
		if per := float64(bytes) / float64(len(tc.body)); per > tc.bytes {
			t.Errorf("%s: %.1f bytes allocated a byte of body, want at most %g", tc.name, per, tc.bytes)
		}
	}
}
