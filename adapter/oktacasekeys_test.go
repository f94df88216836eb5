package adapter

import (
	"strings"
	"testing"
)

// TestOktaCaseKeys: an Okta event was held to keys unique in any case in every
// object, as encoding/json matches keys to fields, though Okta relays data it does not
// own in parts emfa never reads (debugContext.debugData, a target's detailEntry, the
// client's userAgent): {"Foo": …, "foo": …} there refused the event ("the key … is named
// twice"), answered 400 when alone in its batch, and Okta, which sends no batch answered
// 4xx again, dropped the user's creation. As for Auth0, only the objects read into
// fields (the event's, its actor's, outcome's and each target's) are held to that; a key
// named twice exactly is refused anywhere.
func TestOktaCaseKeys(t *testing.T) {
	h := newSyncHarness(t)
	ev := func(uuid, login, extra string) string {
		return `{"uuid":"` + uuid + `","published":"2026-05-01T09:00:01.000Z","eventType":"user.lifecycle.create",` +
			`"outcome":{"result":"SUCCESS"},"target":[{"id":"00u1","type":"User","alternateId":"` + login + `"` + extra
	}
	read := ev("c1", "olga@example.com", `,"detailEntry":{"Note":"a","note":"b"}}],`+
		`"client":{"userAgent":{"rawUserAgent":"x","RawUserAgent":"y"}},"debugContext":{"debugData":{"Foo":"1","foo":"2"}}}`)
	if code, out, _ := h.do("POST", OktaPath, oktaBatch(read), "X-Okta-Secret", testSecret); code != 204 {
		t.Fatalf("keys differing in case in data Okta relays: %d %v", code, out)
	}
	h.drain()
	if _, ok := h.user("olga@example.com"); !ok {
		t.Error("olga@example.com was not created")
	}
	for name, tc := range map[string]struct{ event, key string }{
		"uuid in two cases":        {ev("r1", "a@example.com", `}],"UUID":"r2"}`), `"UUID"`},
		"alternateId in two cases": {ev("r3", "a@example.com", `,"AlternateID":"b@example.com"}]}`), `"target.[].AlternateID"`},
		"outcome result":           {`{"uuid":"r4","published":"2026-05-01T09:00:01.000Z","eventType":"user.lifecycle.create","outcome":{"result":"SUCCESS","RESULT":"FAILURE"}}`, `"outcome.RESULT"`},
		"actor id":                 {`{"uuid":"r5","published":"2026-05-01T09:00:01.000Z","eventType":"user.lifecycle.create","actor":{"id":"a","Id":"b"}}`, `"actor.Id"`},
		"exact, in debugData":      {ev("r6", "a@example.com", `}],"debugContext":{"debugData":{"foo":"1","foo":"2"}}}`), `"debugContext.debugData.foo"`},
	} {
		code, out, _ := h.do("POST", OktaPath, oktaBatch(tc.event), "X-Okta-Secret", testSecret)
		if msg, _ := out["messageDescription"].(string); code != 400 || !strings.Contains(msg, tc.key+" is named twice") {
			t.Errorf("%s: %d %v, want 400 naming %s", name, code, out, tc.key)
		}
	}
}
