package adapter

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestBatchOneUnreadableEventKeepsTheRest: an Okta batch, or an Auth0 batch sent as
// a JSON array, of which one event cannot be read (a key named twice, a value of the
// wrong type, nested deeper than emfa reads) is answered 204 with the others queued and
// that one refused: Okta never sends a batch answered 4xx again, so a 400 lost every
// event in it. The envelope around the events is still held to the rules whole.
func TestBatchOneUnreadableEventKeepsTheRest(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	okta := []string{"X-Okta-Secret", testSecret}
	auth0 := []string{"Authorization", testSecret}
	for _, tc := range []struct {
		name, path, body string
		hdr              []string
	}{
		{"okta duplicate key", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1),
			`{"uuid":"o2","uuid":"o3","published":"2026-05-01T09:00:00Z","eventType":"user.lifecycle.create","target":[]}`), okta},
		{"okta wrong type", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1),
			`{"uuid":5,"published":"2026-05-01T09:00:00Z","eventType":"user.lifecycle.create","target":[]}`), okta},
		{"okta too deep", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1),
			`{"uuid":"o4","published":"2026-05-01T09:00:00Z","eventType":"user.lifecycle.create","debugContext":`+deep+`}`), okta},
		{"auth0 array duplicate key", Auth0Path, `[{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"alice@example.com"},` +
			`{"log_id":"a2","log_id":"a3","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"bob@example.com"}]`, auth0},
		{"auth0 array too deep", Auth0Path, `[{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"alice@example.com"},` +
			`{"log_id":"a4","type":"ss","date":"2026-05-01T09:00:00Z","user_name":"bob@example.com","details":` + deep + `}]`, auth0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSyncHarness(t)
			code, body, _ := h.do("POST", tc.path, tc.body, tc.hdr...)
			if code != 204 {
				t.Fatalf("%d %v, want 204 with the readable event queued", code, body)
			}
			if got := h.SyncCounts(t); got != "queued=1 duplicate=0 ignored=0" {
				t.Errorf("counts %s", got)
			}
			if n := h.srv.SyncCounts().Refused.Load(); n != 1 {
				t.Errorf("%d refused, want 1", n)
			}
			h.drain()
			if _, ok := h.user("alice@example.com"); !ok {
				t.Error("the readable event's user was not created")
			}
		})
	}
	// The envelope is read whole: a key it names twice, or a batch with nothing readable.
	h := newSyncHarness(t)
	for _, bad := range []string{
		`{"eventId":"b1","eventId":"b2","data":{"events":[` + okEv("o1", "user.lifecycle.create", "alice@example.com", 1) + `]}}`,
		`{"eventId":"b1","data":{"events":[],"Events":[` + okEv("o1", "user.lifecycle.create", "alice@example.com", 1) + `]}}`,
		`{"eventId":"b1","data":{"events":[]},"x":{"a":1,"a":2}}`,
		`{"eventId":"b1","data":{"events":[` + okEv("o1", "user.lifecycle.create", "alice@example.com", 1) + `]}} {}`,
		`{"eventId":"b1","data":{"events":{}}}`,
		`[]`,
		oktaBatch(`{"uuid":"o2","uuid":"o3"}`),
	} {
		if code, body, _ := h.do("POST", OktaPath, bad, okta...); code != 400 {
			t.Errorf("%s: %d %v, want 400", bad, code, body)
		}
	}
	if code, body, _ := h.do("POST", Auth0Path, `[{"log_id":"a2","log_id":"a3"}]`, auth0...); code != 400 {
		t.Errorf("an Auth0 array with nothing readable: %d %v, want 400", code, body)
	}
	if got := h.SyncCounts(t); got != "queued=0 duplicate=0 ignored=0" {
		t.Errorf("counts %s", got)
	}
}

// BenchmarkParseOkta: a batch of 100 events read (the envelope, then each event).
func BenchmarkParseOkta(b *testing.B) {
	evs := make([]string, 100)
	for i := range evs {
		evs[i] = okEv("u"+itoa(i), "user.lifecycle.suspend", "alice@example.com", i%60)
	}
	body := []byte(oktaBatch(evs...))
	b.ReportAllocs()
	for b.Loop() {
		if p, err := parseOkta(nil, body); err != nil || len(p.events) != 100 {
			b.Fatal(err)
		}
	}
}

// FuzzParseOkta: whatever the body, reading it does not panic; and a body that
// decodes whole as the hook's envelope without a key named twice (as every batch was
// read before events were read one at a time) has the same batch id and events.
func FuzzParseOkta(f *testing.F) {
	f.Add(oktaBatch(okEv("o1", "user.lifecycle.create", "alice@example.com", 1), okEv("o2", "group.user_membership.add", "alice@example.com", 2, "g")))
	f.Add(`{"eventId":"b","data":{"events":[{},null,0,{"uuid":"x","eventType":"user.lifecycle.create","published":"2026-05-01T09:00:00Z"}]}}`)
	f.Add(`{"data":null}`)
	f.Add(`{"DATA":{"EVENTS":[]},"eventid":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		_, _ = parseOkta(nil, []byte(body))
		var whole struct {
			EventID string `json:"eventId"`
			Data    *struct {
				Events []json.RawMessage `json:"events"`
			} `json:"data"`
		}
		if decodeJSON([]byte(body), &whole) != nil || whole.Data == nil {
			return
		}
		batch, events, err := oktaEnvelope([]byte(body))
		if err != nil {
			t.Fatalf("read whole, refused now: %v", err)
		}
		if batch != whole.EventID || len(events) != len(whole.Data.Events) {
			t.Fatalf("batch %q, %d events; whole: batch %q, %d events", batch, len(events), whole.EventID, len(whole.Data.Events))
		}
		for i := range events {
			if !bytes.Equal(bytes.TrimSpace(events[i]), bytes.TrimSpace(whole.Data.Events[i])) {
				t.Fatalf("event %d: %s, whole: %s", i, events[i], whole.Data.Events[i])
			}
		}
	})
}
