package remote

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestAnnouncedLengthNoLimit: with maxResponseBytes math.MaxInt64 (no limit,
// which 167fa39 made a webhook read instead of panic), the length a vendor announces is
// no longer refused before the read, and readAtMost made room for all of it at once:
// Content-Length 9223372036854775807 wrapped min(size, limit)+512 around to a negative
// capacity, 1<<50 asked more than the heap can hold, and each panicked making the
// buffer ("makeslice: cap out of range") on the engine's goroutine, before a byte was
// read. The vendor's real answer, hello, is what the call reads.
func TestAnnouncedLengthNoLimit(t *testing.T) {
	for _, announced := range []int64{math.MaxInt64, math.MaxInt64 - 100, 1 << 50} {
		c, err := newClient(&Webhook{Timeout: Duration(5 * time.Second), MaxResponseBytes: math.MaxInt64}, func(http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: announced,
					Body: io.NopCloser(strings.NewReader("hello")), Request: req}, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := doRecovered(t, c, fmt.Sprintf("announced %d", announced))
		if err != nil || resp != nil && string(resp.Body) != "hello" {
			t.Errorf("announced %d: %v, %v; want the body hello", announced, resp, err)
		}
		c.Close()
	}
}

// TestAnnouncedLengthRoom: the room readAtMost makes before reading is bounded
// whatever length is announced. Under a raised limit, a vendor that announces 256 MiB
// and sends 5 bytes (or none, until the call's deadline) cost 256 MiB a call, made at
// once from its header alone.
func TestAnnouncedLengthRoom(t *testing.T) {
	const announced = 256 << 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got, err := readAtMost(strings.NewReader("hello"), announced+1, announced)
	runtime.ReadMemStats(&after)
	if err != nil || string(got) != "hello" {
		t.Fatalf("readAtMost: %q, %v; want hello", got, err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("readAtMost of 5 bytes announced as %d allocated %d bytes; want at most 4 MiB", announced, n)
	}
}
