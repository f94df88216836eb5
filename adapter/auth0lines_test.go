package adapter

import (
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
