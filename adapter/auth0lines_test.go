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
// JSON, not an object, an object too short to hold a log_id) are read in place, their
// reasons worded only for the first maxListedRefusals: a body of them allocates less than
// its own size. Each line was first kept in two lists (its bytes, where it began) grown
// to millions of entries, and each refusal placed at its line and column and worded, then
// dropped: a 4 MiB body of "{" lines took seconds of CPU, most of it in those. Lines of
// "{}", each checked for its keys and decoded to find it had no log_id, allocated 50
// times the body (two allocations of encoding/json's a line) and took 0.55 s of CPU.
func TestAuth0LinesRefusedAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	for _, line := range []string{"{\n", "0\n", "  [\r\n", "{\"a\":\n", "\"x\"\n", "{}\n", "{ }\r\n", "{\"a\":0}\n", "{\"log_id\":\"\"}\n"} {
		wantRefusedCheaply(t, line, (1<<20)/len(line))
	}
}

// wantRefusedCheaply parses an Auth0 body of n lines of line, each refused, and wants it
// refused with fewer bytes allocated than the body has, and fewer allocations than one a
// hundred lines.
func wantRefusedCheaply(t *testing.T, line string, n int) {
	t.Helper()
	body := []byte(strings.Repeat(line, n))
	var got uint64
	var err error
	// Counted with AllocsPerRun too, so that .ci/run's stage of allocation tests, which
	// runs the files that count with it, runs these without -race.
	allocs := testing.AllocsPerRun(1, func() {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = parseAuth0(nil, body)
		runtime.ReadMemStats(&after)
		got = after.TotalAlloc - before.TotalAlloc
	})
	if err == nil {
		t.Fatalf("%q: a body of refused lines read", line)
	}
	if got > uint64(len(body)) {
		t.Errorf("%q: %d KB allocated for a body of %d KB, want less than its size", line, got>>10, len(body)>>10)
	}
	if allocs > float64(n)/100 {
		t.Errorf("%q: %.0f allocations for %d lines, want fewer than one a hundred lines", line, allocs, n)
	}
}

// TestAuth0EntriesPastListedRefusalsRead: in JSON lines past the maxListedRefusals
// refusals whose reasons are kept, an entry that can be read is read as before, though
// those refused there are refused without words (and a line that begins as an object but
// cannot end as one without being parsed): one indented, one ending in CRLF or in spaces,
// one {log_id, data: entry}, the last with no newline of its own; those refused past it
// are counted, with their ids. The twentieth refusal is still placed at its line, the
// twenty-first not listed. The tests of refused lines held only bodies refused whole.
func TestAuth0EntriesPastListedRefusalsRead(t *testing.T) {
	const date = `"date":"2026-05-01T09:00:00Z"`
	var b strings.Builder
	for i := range maxListedRefusals - 1 {
		b.WriteString("0\r\n") // refused: not a JSON object
		if i%5 == 0 {
			b.WriteString("\n  \r\n") // blank lines are no entries
		}
	}
	b.WriteString(`{"log_id":"r20","type":"ss"` + "\n") // the 20th refused, worded: cut off
	b.WriteString(`{"log_id":"r21",` + "\n")            // the 21st: cannot end as an object
	b.WriteString(`  {"log_id":"a1","type":"ss",` + date + `,"user_name":"alice@example.com"}` + "\r\n")
	b.WriteString(`{"log_id":"w2","data":{"type":"du",` + date + `,"user_name":"bob@example.com"}}  ` + "\n")
	b.WriteString(`{"log_id":"i1","type":"fp",` + date + `}` + "\n") // a type emfa does not act on
	b.WriteString(`{"log_id":"x1","type":"ss","date":"soon","user_name":"x@example.com"}` + "\n")
	b.WriteString(`{"log_id":"x2","data":5}` + "\n")
	b.WriteString(`{"log_id":"x3","log_id":"x4"}` + "\n")
	b.WriteString(`{"log_id":"x5","type":"sapi",` + date + `,"details":[]}` + "\n")
	b.WriteString(`{"log_id":"a3","type":"ss",` + date + `,"user_name":"carol@example.com"}`)
	p, err := parseAuth0(nil, []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range p.events {
		got = append(got, ev.ID+" "+ev.Type+" "+ev.Username)
	}
	if want := "a1 user.create alice@example.com, w2 user.delete bob@example.com, a3 user.create carol@example.com"; strings.Join(got, ", ") != want {
		t.Errorf("events %q, want %q", strings.Join(got, ", "), want)
	}
	if p.ignored != 1 || p.nRefused != maxListedRefusals+5 || len(p.refused) != maxListedRefusals ||
		p.nRefusedIDs != 3 || strings.Join(p.refusedIDs, ",") != "x1,x2,x5" {
		t.Errorf("%d ignored, %d refused (%d listed), ids %d %q; want 1, %d (%d), 3 \"x1,x2,x5\"",
			p.ignored, p.nRefused, len(p.refused), p.nRefusedIDs, p.refusedIDs, maxListedRefusals+5, maxListedRefusals)
	}
	if last := p.refused[len(p.refused)-1]; last != "entry 19: not valid JSON: it ends early, at line 28, column 28" {
		t.Errorf("the twentieth reason %q", last)
	}
	for i, why := range p.refused {
		if why == "" {
			t.Errorf("reason %d of the listed ones not worded", i)
		}
	}
}
