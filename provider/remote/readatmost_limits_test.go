package remote

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// emptyReads answers 0, nil to every Read, until max calls, then errStopped: a reader
// that makes no progress, and that a test can still stop.
type emptyReads struct {
	calls, max int
}

var errStopped = errors.New("test: the reader was read too often")

func (r *emptyReads) Read([]byte) (int, error) {
	r.calls++
	if r.calls >= r.max {
		return 0, errStopped
	}
	return 0, nil
}

// TestReadAtMostNoProgress: a body that reads 0 bytes and no error, again and
// again, fails the read (io.ErrNoProgress, as bufio and io's readers do after 100 such
// reads) instead of spinning on the engine's goroutine until the call's deadline... which
// a spinning read never looks at.
func TestReadAtMostNoProgress(t *testing.T) {
	r := &emptyReads{max: 1_000_000}
	_, err := readAtMost(r, 1<<20, -1)
	if !errors.Is(err, io.ErrNoProgress) || r.calls > 1000 {
		t.Errorf("readAtMost of a reader making no progress: %v after %d reads; want io.ErrNoProgress after at most 1000", err, r.calls)
	}
	// Some empty reads between bytes are progress all the same.
	var parts []string
	for range 300 {
		parts = append(parts, "", "x")
	}
	got, err := readAtMost(&sliceReader{parts: parts}, 1<<20, -1)
	if err != nil || len(got) != 300 {
		t.Errorf("a reader with empty reads between its bytes: %d bytes, %v; want 300, nil", len(got), err)
	}
}

// sliceReader hands out its parts one a Read, an empty one as 0, nil.
type sliceReader struct{ parts []string }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.parts[0])
	r.parts[0] = r.parts[0][n:]
	if r.parts[0] == "" {
		r.parts = r.parts[1:]
	}
	return n, nil
}

// TestNoLimitBody: a webhook whose maxResponseBytes is the largest it may be
// (math.MaxInt64, "no limit", which validation accepts) reads its vendor's answer. The
// limit readAtMost was handed, maxBody + 1, wrapped around to math.MinInt64: the call
// panicked making its buffer (a negative capacity); through io.LimitReader before, the
// answer read as empty. Nor may the length the vendor announces, no longer refused before
// the read, be room made at once: Content-Length 9223372036854775807 wrapped
// min(size, limit)+512 around to a negative capacity, 1<<50 asked more than the heap can
// hold, and each panicked making the buffer before a byte was read (d0515e5).
func TestNoLimitBody(t *testing.T) {
	for _, announced := range []int64{-1, 5, math.MaxInt64, math.MaxInt64 - 100, 1 << 50} {
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
