package adapter

import (
	"strings"
	"testing"
)

// TestInvalidIndentedBodyNamedOnce: a body that is not valid JSON, laid
// out over several lines as a sender that indents writes it, is refused naming its first
// problem once, at the line and column where it is. Before, an Auth0 object spread over
// lines was read as JSON lines once it did not parse whole: each of its lines was refused
// as an entry of its own ("entry 0: … at byte 1; entry 1: not a JSON object; …", none of
// them where the fault was) and counted as that many lost events; an Okta hook's offset
// was that of the bytes its decoder had decoded as values, not the body's (byte 48 of a
// body whose fault is at byte 120); an Auth0 array's left out the white space before it;
// and every one was a byte offset, to be counted by hand in an indented body. JSON lines
// whose entries are each unreadable are still refused entry by entry.
func TestInvalidIndentedBodyNamedOnce(t *testing.T) {
	h := newSyncHarness(t)
	okta := []string{"X-Okta-Secret", testSecret}
	auth0 := []string{"Authorization", testSecret}
	verify := []string{"X-Verify-Secret", testSecret}
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
		want             string
	}{
		{"auth0 object", Auth0Path, "{\n  \"log_id\": \"a5\",\n  \"type\": \"ss\",\n  \"date\": \"2026-05-01T09:00:00Z\"\n  \"user_name\": \"e\"\n}",
			auth0, "body is not valid JSON at line 5, column 3"},
		{"auth0 object ends early", Auth0Path, "{\n  \"log_id\": \"a5\",\n  \"type\": \"ss\",\n",
			auth0, "body is not valid JSON: it ends early, at line 3"},
		{"auth0 array after blank lines", Auth0Path, "\n\n[\n {\n  \"log_id\": \"a5\",\n  \"type\": \"ss\"\n  \"date\": \"2026-05-01T09:00:00Z\"\n }\n]",
			auth0, "body is not a JSON array: not valid JSON at line 7, column 3"},
		{"auth0 array after Unicode space", Auth0Path, "\u00a0\n[\n {\"log_id\" \"a\"}\n]",
			auth0, "body is not a JSON array: not valid JSON at line 3, column 12"},
		{"okta event", OktaPath, "{\n  \"eventId\": \"b\",\n  \"data\": {\n    \"events\": [\n      {\"uuid\": \"x\"\n       \"eventType\": \"y\"}\n    ]\n  }\n}",
			okta, "body is not valid JSON at line 6, column 8"},
		{"okta envelope", OktaPath, "{\n  \"eventId\": \"b\"\n  \"data\": {\"events\": []}\n}",
			okta, "body is not valid JSON at line 3, column 3"},
		{"verify", VerifyPath, "{\n  \"id\": \"n1\",\n  \"event_type\": \"management\"\n  \"time\": 1\n}",
			verify, "body is not valid JSON at line 4, column 3"},
		{"verify on one line, columns in characters", VerifyPath, `{"id": "日本" "event_type": "m"}`,
			verify, "body is not valid JSON at column 13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, _ := h.do("POST", tc.path, tc.body, tc.hdr...)
			msg, _ := out["messageDescription"].(string)
			if code != 400 || !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("%d %q, want 400 %q", code, msg, tc.want)
			}
			if strings.Contains(msg, "entry") || strings.Contains(msg, "byte") || strings.Count(msg, "not valid JSON") != 1 {
				t.Errorf("%q: not the first problem, named once", msg)
			}
		})
	}
	// The indented Auth0 object is one body that could not be read, one refused event.
	body := "{\n  \"log_id\": \"a5\",\n  \"type\": \"ss\"\n  \"user_name\": \"e\"\n}"
	if p, err := parseAuth0(nil, []byte(body)); err == nil || p.nRefused > 1 {
		t.Errorf("%d refused, %v; want one body refused", p.nRefused, err)
	}
	// JSON lines, each entry unreadable: each is named, as before.
	lines := `{"log_id":"a1" "type":"ss"}` + "\n" + `{"log_id":"a2","type":5}`
	code, out, _ := h.do("POST", Auth0Path, lines, auth0...)
	if msg, _ := out["messageDescription"].(string); code != 400 || !strings.Contains(msg, "entry 0: ") || !strings.Contains(msg, "; entry 1: ") {
		t.Errorf("JSON lines: %d %q, want each entry refused", code, msg)
	}
}

// TestJSONLinesEntryPlaced: an entry of JSON lines that is not valid JSON is
// refused alone (the rest queued, as before) at its line and column in the body, where
// its column was counted in the line without its indentation and its line was not said
// (an entry's index skips blank lines).
func TestJSONLinesEntryPlaced(t *testing.T) {
	h := newSyncHarness(t)
	body := `{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"x"}` + "\n\n" + `   {"log_id":"a2" "type":"ss"}` + "\n"
	if code, out, _ := h.do("POST", Auth0Path, body, "Authorization", testSecret); code != 204 {
		t.Fatalf("%d %v, want 204", code, out)
	}
	if want := `reasons="entry 1: not valid JSON at line 3, column 19"`; !strings.Contains(h.logs.String(), want) {
		t.Errorf("the log does not say %s:\n%s", want, h.logs.String())
	}
	// one cut off at its end: placed there, not at the body's
	body = `{"log_id":"a3",` + "\n" + `{"log_id":"a4","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"x"}` + "\n"
	if code, out, _ := h.do("POST", Auth0Path, body, "Authorization", testSecret); code != 204 {
		t.Fatalf("%d %v, want 204", code, out)
	}
	if want := `reasons="entry 0: not valid JSON: it ends early, at line 1, column 16"`; !strings.Contains(h.logs.String(), want) {
		t.Errorf("the log does not say %s:\n%s", want, h.logs.String())
	}
}
