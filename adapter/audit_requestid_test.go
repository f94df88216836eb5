package adapter

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// auditByResource is every audit row of st, by resource (admin.users.create...).
func auditByResource(t *testing.T, st store.Store) map[string][]store.AuditEntry {
	t.Helper()
	rows, err := st.(interface {
		QueryAudit(context.Context, store.AuditQuery) ([]store.AuditEntry, error)
	}).QueryAudit(context.Background(), store.AuditQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.AuditEntry{}
	for _, r := range rows {
		out[r.Resource] = append(out[r.Resource], r)
	}
	return out
}

// TestSyncAuditCarriesRequestID: the audit rows a directory source's request leads to
// carry the X-Request-ID its answer had, so that an operator can join a row to the access
// log's line: a SCIM write's at once, an Okta hook's once the worker applies the events
// that request queued.
func TestSyncAuditCarriesRequestID(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		h := newSyncHarnessOn(t, st)
		code, u, hdr := h.scim("POST", "/Users", `{"userName":"ann"}`, "X-Request-ID", "req-scim-post")
		if code != 201 || hdr.Get("X-Request-ID") != "req-scim-post" {
			t.Fatalf("SCIM create: %d %v (request id %q)", code, u, hdr.Get("X-Request-ID"))
		}
		code, out, hdr := h.scim("PATCH", "/Users/"+u["id"].(string),
			`{`+patchSchema+`,"Operations":[{"op":"Replace","path":"displayName","value":"Ann A"}]}`, "X-Request-ID", "req-scim-patch")
		if code != 200 || hdr.Get("X-Request-ID") != "req-scim-patch" {
			t.Fatalf("SCIM patch: %d %v", code, out)
		}
		// No X-Request-ID sent: the one the answer carries is the one recorded.
		code, _, hdr = h.do("POST", OktaPath, oktaBatch(okEv("o1", "user.lifecycle.create", "olga@example.com", 1)),
			"X-Okta-Secret", testSecret)
		oktaID := hdr.Get("X-Request-ID")
		if code != 204 || oktaID == "" {
			t.Fatalf("okta hook: %d, request id %q", code, oktaID)
		}
		h.drain()

		rows := auditByResource(t, st)
		want := map[string]string{"ann": "req-scim-post", "olga@example.com": oktaID}
		for _, r := range rows["admin.users.create"] {
			if r.RequestID != want[r.Username] {
				t.Errorf("users.create of %s by %s: request id %q, want %q", r.Username, r.Actor, r.RequestID, want[r.Username])
			}
			delete(want, r.Username)
		}
		if len(want) != 0 {
			t.Errorf("no users.create row of %v: %v", want, rows)
		}
		if ups := rows["admin.users.update"]; len(ups) != 1 || ups[0].RequestID != "req-scim-patch" {
			t.Errorf("the SCIM patch's users.update rows: %+v, want one with request id req-scim-patch", ups)
		}
	})
}

// TestSelfServiceAuditCarriesRequestID: each audit row the self-service page writes (the
// link opened, the factor enrolled and activated) carries the X-Request-ID of the page
// request that wrote it.
func TestSelfServiceAuditCarriesRequestID(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	p := openLink(t, h)
	p.send = http.Header{"X-Request-Id": {"req-page-enroll"}}
	if code := p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}}); code != 200 {
		t.Fatalf("enroll: %d %s", code, p.body)
	}
	m := regexp.MustCompile(`<code id="secret">([A-Z2-7]+)</code>`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no key on the confirm page: %s", p.body)
	}
	right, _ := totp.GenerateCode(m[1], time.Now())
	p.send = http.Header{"X-Request-Id": {"req-page-confirm"}}
	if code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 {
		t.Fatalf("confirm: %d %s", code, p.body)
	}
	rows := auditByResource(t, h.store)
	opened := rows["admin.selfservice.open"]
	if len(opened) == 0 {
		t.Errorf("no selfservice.open row: %v", rows)
	}
	for _, r := range opened {
		if r.RequestID == "" {
			t.Errorf("the link's opening recorded without a request id: %+v", r)
		}
	}
	for res, want := range map[string]string{"admin.factors.enroll": "req-page-enroll", "admin.factors.activate": "req-page-confirm"} {
		got := rows[res]
		if len(got) != 1 || got[0].RequestID != want {
			t.Errorf("%s rows: %+v, want one with request id %s", res, got, want)
		}
	}
}
