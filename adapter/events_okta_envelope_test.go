package adapter

import (
	"strings"
	"testing"
	"time"
)

// TestOktaEnvelopeManyKeysLinear: an Okta body of the size a source may send
// (syncMaxBody) that is an envelope of hundreds of thousands of distinct keys is read
// in linear time. The envelope's own key walk compared each key with every key before
// it: 40,000 keys took 2.6 s, a 4 MiB body minutes of CPU, where the whole-body check it
// replaced (jsonkeys) keeps the keys of a large object in a map. Read linearly, the body
// takes about a second; the bound, a minute, is far from both, so that a loaded machine
// does not trip it and a quadratic walk still does.
func TestOktaEnvelopeManyKeysLinear(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("a body of 4 MiB, timed")
	}
	for _, where := range []string{"envelope", "data"} {
		t.Run(where, func(t *testing.T) {
			var b strings.Builder
			if where == "envelope" {
				b.WriteString(`{"eventId":"b","data":{"events":[]}`)
			} else {
				b.WriteString(`{"eventId":"b","data":{"events":[]`)
			}
			for i := 0; b.Len() < syncMaxBody-32; i++ {
				b.WriteString(`,"` + strings.ToUpper(itoa(i)) + `":0`)
			}
			if where == "data" {
				b.WriteString(`}`)
			}
			b.WriteString(`}`)
			body := []byte(b.String())
			done := make(chan error, 1)
			go func() {
				_, err := parseOkta(nil, body)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatalf("a body of %d bytes of keys not read in a minute", len(body))
			}
		})
	}
}

// TestOktaEnvelopeKeyTwicePastManyKeys: a key named twice in an envelope's object
// of many keys, in another case or under Unicode's simple folding (K and the Kelvin
// sign, s and the long s, as encoding/json matches them), is refused as among few keys.
func TestOktaEnvelopeKeyTwicePastManyKeys(t *testing.T) {
	var filler strings.Builder
	for i := range 40 {
		filler.WriteString(`"f` + itoa(i) + `":{"a":1},`)
	}
	for _, tc := range []struct{ name, body string }{
		{"data, DATA", `{"eventId":"b",` + filler.String() + `"data":{"events":[]},"DATA":{"events":[]}}`},
		{"eventId escaped", `{"eventId":"b",` + filler.String() + `"data":{"events":[]},"\u0065ventID":"c"}`},
		{"kelvin", `{"data":{"events":[]},` + filler.String() + `"k":1,"\u212a":2}`},
		{"long s", `{"data":{"events":[]},` + filler.String() + `"s":1,"\u017f":2}`},
		{"in data", `{"data":{` + filler.String() + `"events":[],"EVENTS":[]}}`},
		{"first and last", `{"x":1,` + filler.String() + `"data":{"events":[]},"X":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := oktaEnvelope([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), "named twice") {
				t.Fatalf("%v, want a key named twice refused", err)
			}
		})
	}
	// and distinct keys, as many, are read
	if _, _, err := oktaEnvelope([]byte(`{"data":{"events":[]},` + filler.String() + `"k":1,"s":2}`)); err != nil {
		t.Fatal(err)
	}
}

// TestOktaBatchIDNotAStringKeepsEvents: a hook whose eventId, the batch's own id that
// emfa only logs, is a JSON value other than a string (a number, an object, an array) has
// its events read and queued all the same, as one without an eventId has: the batch was
// refused whole (400), and Okta, which sends no batch answered 4xx again, lost every
// event in it for a value emfa reads nothing by. One event of the batch that cannot be
// read is refused alone, beside it.
func TestOktaBatchIDNotAStringKeepsEvents(t *testing.T) {
	h := newSyncHarness(t)
	for i, id := range []string{`7`, `{"a":1}`, `["b1"]`, `true`, `null`} {
		uuid := "bid" + itoa(i)
		body := `{"eventType":"com.okta.event_hook","eventId":` + id + `,"data":{"events":[` +
			okEv(uuid, "user.lifecycle.create", "u"+uuid+"@example.com", 1) + `,` +
			`{"uuid":5,"published":"2026-05-01T09:00:01.000Z","eventType":"user.lifecycle.create"}]}}`
		code, out, _ := h.do("POST", OktaPath, body, "X-Okta-Secret", testSecret)
		if code != 204 {
			t.Errorf("eventId %s: %d %v, want 204", id, code, out)
			continue
		}
		h.drain()
		if _, ok := h.user("u" + uuid + "@example.com"); !ok {
			t.Errorf("eventId %s: the batch's readable event was not applied", id)
		}
	}
	if got := h.SyncCounts(t); got != "queued=5 duplicate=0 ignored=0" {
		t.Errorf("counts %s", got)
	}
	if got := h.srv.SyncCounts().Refused.Load(); got != 5 {
		t.Errorf("%d refused, want 5: the event whose uuid is a number, in each batch", got)
	}
	// A key named twice in the eventId's object still refuses the envelope, as anywhere in it.
	body := `{"eventId":{"a":1,"a":2},"data":{"events":[` + okEv("bid9", "user.lifecycle.create", "z@example.com", 1) + `]}}`
	if code, _, _ := h.do("POST", OktaPath, body, "X-Okta-Secret", testSecret); code != 400 {
		t.Errorf("a key named twice in eventId: %d, want 400", code)
	}
}
