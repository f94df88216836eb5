package adapter

import (
	"runtime"
	"strings"
	"testing"
)

// TestAuth0CaseKeys: keys that differ only in case are distinct JSON keys, and
// Auth0 logs customers' data as they sent it: a user's metadata in a Management API
// call's body ({"Team": …, "team": …}), a login's details. Every object of an entry was
// held to keys unique in any case, as encoding/json matches keys to fields, so such an
// entry was refused as unreadable and, alone in its batch, answered 400: the user's
// creation was lost. Only the keys emfa reads into fields (the entry's, data's, details',
// its request's and response's) are held to that; a key named twice exactly, anywhere,
// is still refused.
func TestAuth0CaseKeys(t *testing.T) {
	h := newSyncHarness(t)
	create := `{"log_id":"m1","type":"sapi","date":"2026-05-01T09:00:01.000Z","details":{"request":{"method":"POST","path":"/api/v2/users",` +
		`"body":{"email":"sam@example.com","user_metadata":{"Team":"a","team":"b"}}},` +
		`"response":{"statusCode":201,"body":{"email":"sam@example.com","user_metadata":{"Team":"a","team":"b"}}}}}`
	if code, body, _ := h.do("POST", Auth0Path, create, "Authorization", testSecret); code != 204 {
		t.Fatalf("a create whose metadata has keys differing in case: %d %v", code, body)
	}
	wrapped := `{"log_id":"m2","data":{"type":"ss","date":"2026-05-01T09:00:02.000Z","user_name":"tess@example.com",` +
		`"details":{"prompts":[{"Name":"a","name":"b"}]}}}`
	if code, body, _ := h.do("POST", Auth0Path, wrapped, "Authorization", testSecret); code != 204 {
		t.Fatalf("a wrapped signup whose details have keys differing in case: %d %v", code, body)
	}
	if n := h.srv.SyncCounts().Queued.Load(); n != 2 {
		t.Errorf("queued %d, want 2", n)
	}
	h.drain()
	for _, u := range []string{"sam@example.com", "tess@example.com"} {
		if _, ok := h.user(u); !ok {
			t.Errorf("%s was not created", u)
		}
	}
	// Still refused: a field's key in two cases (which one would emfa read?), and any key
	// named twice exactly, however deep.
	for name, entry := range map[string]string{
		"user_name twice": `{"log_id":"r1","type":"ss","date":"2026-05-01T09:00:03.000Z","user_name":"a@example.com","User_Name":"b@example.com"}`,
		"data.type twice": `{"log_id":"r2","data":{"type":"ss","TYPE":"du","date":"2026-05-01T09:00:03.000Z","user_name":"a@example.com"}}`,
		"path twice":      `{"log_id":"r3","type":"sapi","date":"2026-05-01T09:00:03.000Z","details":{"request":{"method":"POST","path":"/api/v2/users","Path":"/x"}}}`,
		"exact, deep":     `{"log_id":"r4","type":"ss","date":"2026-05-01T09:00:03.000Z","user_name":"a@example.com","details":{"x":[{"k":1,"k":2}]}}`,
	} {
		code, body, _ := h.do("POST", Auth0Path, entry, "Authorization", testSecret)
		if code != 400 || !strings.Contains(body["messageDescription"].(string), "named twice") {
			t.Errorf("%s: %d %v, want 400 naming the key", name, code, body)
		}
	}
}

// TestAuth0CaseKeysNamed: the refusal names the key as the entry spells it.
func TestAuth0CaseKeysNamed(t *testing.T) {
	entry := `{"log_id":"r3","type":"sapi","date":"2026-05-01T09:00:03.000Z","details":{"Request":{"method":"POST","path":"/api/v2/users","Path":"/x"},"meta":{"A":1,"a":2}}}`
	_, err := parseAuth0(parseCtx(), []byte(entry))
	if err == nil || !strings.Contains(err.Error(), `"details.Request.Path"`) {
		t.Errorf("got %v, want the key details.Request.Path named", err)
	}
}

// TestAuth0CaseKeysCost: the walk that tells a customer's keys apart runs only
// for an entry the plain check refused, and a body of such entries, each walked, costs
// no more than TestRefusedEntriesCostBounded allows a refused batch: 160 times its size.
func TestAuth0CaseKeysCost(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are measured without the race detector")
	}
	h := newSyncHarness(t)
	const size = 1 << 20
	// A key named twice among the fields is refused without the walk: half the bound
	// (it cost 129 times its size walked, 39 not).
	for name, tc := range map[string]struct {
		line  string
		bound uint64
	}{
		"in customer data": {`{"details":{"x":{"a":1,"A":1}}}`, 160},
		"in a field":       {`{"a":1,"A":1}`, 80},
	} {
		line := tc.line
		body := strings.Repeat(line+"\n", size/(len(line)+1))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, out, _ := h.do("POST", Auth0Path, body, "Authorization", testSecret)
		runtime.ReadMemStats(&after)
		if code != 400 {
			t.Errorf("%s: %d %v, want 400", name, code, out)
		}
		got := after.TotalAlloc - before.TotalAlloc
		if got > tc.bound*uint64(len(body)) {
			t.Errorf("%s: %d MB allocated for a body of %d KB, want at most %d times its size", name, got>>20, len(body)>>10, tc.bound)
		}
		t.Logf("%s: %.0f times the body's size", name, float64(got)/float64(len(body)))
	}
}
