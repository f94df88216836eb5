package adapter

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// incompressible is n bytes that do not compress: PostgreSQL's btree indexes hold an entry
// of at most about 2.7 kB after compression.
func incompressible(n int) string {
	var b strings.Builder
	x := uint32(2463534242)
	for b.Len() < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[x%36])
	}
	return b.String()
}

// TestUnstorableEventLosesNoOther: an event of a batch whose id or user name the
// store cannot hold (a NUL, which PostgreSQL's text refuses; an id or a login of
// kilobytes, past its index's entry size) is an event that cannot be read: it is refused
// and logged, and the rest of its batch is queued and answered 204. It must not fail the
// batch's one commit, answered 503: Okta sends it once more, fails again, and drops
// every event of it.
func TestUnstorableEventLosesNoOther(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		auth := []string{"X-Okta-Secret", testSecret}
		bads := map[string]string{
			"nul uuid":   strings.Replace(okEv("badXX", "user.lifecycle.create", "bob@example.com", 2), "XX", `\u0000`, 1),
			"nul login":  strings.Replace(okEv("bad2", "user.lifecycle.create", "bobXX@example.com", 2), "XX", `\u0000`, 1),
			"long uuid":  okEv(incompressible(9000), "user.lifecycle.create", "bob@example.com", 2),
			"long login": okEv("bad3", "user.lifecycle.create", incompressible(9000)+"@example.com", 2),
		}
		i := 0
		for name, bad := range bads {
			i++
			user := "alice" + itoa(i) + "@example.com"
			code, _, _ := h.do("POST", OktaPath, oktaBatch(okEv("good-"+itoa(i), "user.lifecycle.create", user, 1), bad), auth...)
			if code != 204 {
				t.Errorf("%s: the batch was answered %d, want 204 (the good event queued)", name, code)
			}
			h.drain()
			if _, ok := h.user(user); !ok {
				t.Errorf("%s: %s lost with the bad event of its batch", name, user)
			}
		}
		if got := h.srv.SyncCounts().Refused.Load(); got != int64(len(bads)) {
			t.Errorf("refused %d events, want %d", got, len(bads))
		}
		code, _, _ := h.do("POST", Auth0Path, `{"log_id":"a1","type":"ss","date":"2026-05-01T09:00:01Z","user_name":"carol@example.com"}`+"\n"+
			`{"log_id":"`+incompressible(9000)+`","type":"ss","date":"2026-05-01T09:00:02Z","user_name":"dave@example.com"}`, "Authorization", testSecret)
		if code != 204 {
			t.Errorf("auth0 batch with an unstorable log_id: %d, want 204", code)
		}
		h.drain()
		if _, ok := h.user("carol@example.com"); !ok {
			t.Error("carol lost with the bad entry of her batch")
		}
		// Verify sends one event a request: one that cannot be kept is a 400, not a
		// 503 that Verify retries and reconciles for 90 days.
		id := incompressible(9000)
		body := `{"id":"` + id + `","event_type":"management","time":1777626000000,"data":{"resource":"user","action":"created","username":"erin@example.com","result":"success"}}`
		if code, _, _ := h.do("POST", VerifyPath, body, "X-Verify-Secret", testSecret, "X-Webhook-ID", id); code != 400 {
			t.Errorf("verify event with an unstorable id: %d, want 400", code)
		}
	})
}
