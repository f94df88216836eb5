package adapter

import (
	"testing"
)

// TestAuth0PrettyObject: a log stream set to the "JSON object" content format,
// or any sender that indents its JSON, posts one entry as one JSON object over several
// lines. Read as JSON lines, each line was refused ("not a JSON object") and the whole
// body answered 400: the entry was lost, as Auth0 gives up on it after three tries. One
// body that is one JSON object is one entry, however it is laid out; JSON lines are still
// read one line at a time.
func TestAuth0PrettyObject(t *testing.T) {
	h := newSyncHarness(t)
	pretty := "{\n  \"log_id\": \"p1\",\n  \"type\": \"ss\",\n  \"date\": \"2026-05-01T09:00:00.000Z\",\n" +
		"  \"user_name\": \"pat@example.com\"\n}\n"
	if code, body, _ := h.do("POST", Auth0Path, pretty, "Authorization", testSecret); code != 204 {
		t.Fatalf("an indented object: %d %v", code, body)
	}
	wrapped := "{\r\n\t\"log_id\": \"p2\",\r\n\t\"data\": {\r\n\t\t\"type\": \"ss\",\r\n\t\t\"date\": \"2026-05-01T09:00:01.000Z\",\r\n" +
		"\t\t\"user_name\": \"quinn@example.com\"\r\n\t}\r\n}"
	if code, body, _ := h.do("POST", Auth0Path, wrapped, "Authorization", testSecret); code != 204 {
		t.Fatalf("an indented {log_id, data}: %d %v", code, body)
	}
	// JSON lines keep their one-entry-a-line reading: a bad line is refused alone.
	lines := `{"log_id":"l1","type":"ss","date":"2026-05-01T09:00:02.000Z","user_name":"rae@example.com"}` + "\n" +
		`{"log_id":"l2","type":` + "\n"
	if code, body, _ := h.do("POST", Auth0Path, lines, "Authorization", testSecret); code != 204 {
		t.Fatalf("JSON lines with one bad line: %d %v", code, body)
	}
	if n := h.srv.SyncCounts().Queued.Load(); n != 3 {
		t.Errorf("queued %d, want 3", n)
	}
	h.drain()
	for _, u := range []string{"pat@example.com", "quinn@example.com", "rae@example.com"} {
		if _, ok := h.user(u); !ok {
			t.Errorf("%s was not created", u)
		}
	}
}
