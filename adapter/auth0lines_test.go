package adapter

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestAuth0LinesRefusedLinear: an Auth0 body of JSON lines of the size a
// source may send (syncMaxBody), each line an entry that is not JSON, is read in linear
// time. Each refused entry was placed at its line by counting the newlines of the whole
// body before it: two million such lines took minutes of CPU in one request, which no
// deadline stops. Placed by the line it is on, the body takes seconds; the bound, a
// minute, is far from both (as TestOktaEnvelopeManyKeysLinear's).
func TestAuth0LinesRefusedLinear(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a body of 4 MiB, timed")
	}
	body := []byte(strings.Repeat("{\n", syncMaxBody/2))
	done := make(chan error, 1)
	go func() {
		_, err := parseAuth0(nil, body)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "line 2, column 1") {
			t.Fatalf("%v, want the body refused where it stops being JSON", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("a body of %d bytes of refused lines not read in a minute", len(body))
	}
}

// TestAuth0LinesPlaced: an entry of JSON lines is placed at its line and column
// of the body, counted across blank and indented lines, once each is placed by its own
// line alone.
func TestAuth0LinesPlaced(t *testing.T) {
	ok := `{"log_id":"1","type":"sapi","data":{}}`
	for _, tc := range []struct{ body, want string }{
		{ok + "\n\n  {\"log_id\":\"2\" x}\n" + ok + "\n", "line 3, column 17"},
		{ok + "\r\n" + ok + "\r\n\t{]x\r\n", "line 3, column 3"},
		{"{]x\n" + ok + "\n", "line 1, column 2"},
		{ok + "\n{]x", "line 2, column 2"}, // the last line, with no newline of its own
		{ok + "\n  {\"é\"]x\n", "line 2, column 7"},
		{ok + "\n" + ok + "\n" + `{"log_id":"3","type":` + "\n", "it ends early, at line 3, column 22"},
	} {
		p, err := parseAuth0(nil, []byte(tc.body))
		got := strings.Join(p.refused, "; ")
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%q: %q, want %s", tc.body, got, tc.want)
		}
	}
}

// BenchmarkAuth0LinesRefused: an Auth0 body of JSON lines of the size a source may send
// (syncMaxBody), each line an entry refused.
func BenchmarkAuth0LinesRefused(b *testing.B) {
	for _, tc := range []struct{ name, line string }{
		{"open brace", "{\n"},
		{"not an object", "0\n"},
		{"empty object", "{}\n"},
	} {
		body := []byte(strings.Repeat(tc.line, syncMaxBody/len(tc.line)))
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parseAuth0(nil, body); err == nil {
					b.Fatal("a body of refused lines read")
				}
			}
		})
	}
}

// TestAuth0LinesRefusedAllocateLittle: JSON lines each refused without being decoded (not
// JSON, not an object) are read in place, their reasons worded only for the first
// maxListedRefusals: a body of them allocates less than its own size. Each line was
// first kept in two lists (its bytes, where it began) grown to millions of entries, and
// each refusal placed at its line and column and worded, then dropped: a 4 MiB body of
// "{" lines took seconds of CPU, most of it in those.
func TestAuth0LinesRefusedAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	for _, line := range []string{"{\n", "0\n", "  [\r\n", "{\"a\":\n", "\"x\"\n"} {
		body := []byte(strings.Repeat(line, (1<<20)/len(line)))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, err := parseAuth0(nil, body)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("%q: a body of refused lines read: %+v", line, p)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > uint64(len(body)) {
			t.Errorf("%q: %d KB allocated for a body of %d KB, want less than its size", line, got>>10, len(body)>>10)
		}
	}
}
