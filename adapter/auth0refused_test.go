package adapter

import (
	"strings"
	"testing"
)

// auth0RefusedWithIDs are entries refused for what their keys and values say, each
// naming a log_id (but the last two, refused without one): no type, no date, data that is
// not an object, a field of the wrong kind, a key named twice.
var auth0RefusedWithIDs = []string{
	`{"log_id":"x"}`,
	`{"log_id":"90020260501","type":"ss"}`,
	`{ "LOG_ID" : "90020260501" , "type":"ss", "user_name":"a@example.com", "n":-1.5e3, "details":null }`,
	`{"log_id":"90020260501","data":5}`,
	`{"log_id":"90020260501","date":"2026-05-01T09:00:00Z"}`,
	`{"log_id":"90020260501","type":5}`,
	`{"log_id":"x","Log_Id":"y"}`,
}

// TestAuth0RefusedPastListedAllocateLittle: past the maxListedRefusals refusals whose
// reasons are kept, an entry refused for what its keys and values say (above) was still
// decoded whole to find its log_id: json.Valid twice, the key check's walk, and
// json.Unmarshal into an entry, four allocations a line, 0.56 s of CPU a 4 MiB body of
// {"log_id":"x"}. Such an entry, whose keys are plain and values are not objects or
// arrays, is now refused from one walk of it and json.Valid: a body of them allocates
// less than its own size, and fewer than one allocation a hundred lines.
func TestAuth0RefusedPastListedAllocateLittle(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	// Counted by testing.AllocsPerRun (wantRefusedCheaply): .ci/run's stage of allocation
	// tests runs the files that name it, this one too, without -race.
	for _, entry := range auth0RefusedWithIDs {
		wantRefusedCheaply(t, entry+"\n", 100_000)
	}
}

// BenchmarkAuth0RefusedPastListed: an Auth0 body of JSON lines of the size a source may
// send (syncMaxBody), each line an entry refused that names a log_id.
func BenchmarkAuth0RefusedPastListed(b *testing.B) {
	for _, entry := range auth0RefusedWithIDs[:4] {
		line := entry + "\n"
		body := []byte(strings.Repeat(line, syncMaxBody/len(line)))
		b.Run(entry, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := parseAuth0(nil, body); err == nil {
					b.Fatal("a body of refused lines read")
				}
			}
		})
	}
}
