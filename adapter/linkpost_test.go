package adapter

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestUnknownLinksPostedThrottledAndRecorded: the switch form (POST /self-service/link/TOKEN)
// opens a link as its GET does, so a token that does not exist posted there is a guess
// as well: it counts against the address's budget (429 past it), and its record names
// the address and stops at the address's few, as for the GET. Any browser has a form's
// CSRF token for the asking (the sign-in form's anonymous session), so the POST was a
// way round both: every guess answered, and every one a row of the audit trail.
func TestUnknownLinksPostedThrottledAndRecorded(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	h.srv.signIns.now = clk.Now
	h.srv.pages.linkAudits.now = clk.Now
	link := linkOf(t, h, "alice")
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.get("/self-service/") // an anonymous session and its CSRF token
	if p.cookie == nil || p.csrf == "" {
		t.Fatal("the sign-in form set no session")
	}
	n := 0
	guess := func() pageAnswer {
		t.Helper()
		n++
		return p.post("/self-service/link/"+strings.Repeat("x", 40)+fmt.Sprint(n), url.Values{})
	}
	for i := range throttleBurst {
		if a := guess(); a.status != http.StatusNotFound {
			t.Fatalf("unknown link %d posted: %d, want 404", i+1, a.status)
		}
	}
	var a pageAnswer
	for range 3 * throttleBurst {
		a = guess()
	}
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("past the burst: %d (Retry-After %q), want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	// A real link opens all the same.
	if a := p.post(strings.TrimPrefix(link, "https://mfa.example.com"), url.Values{}); a.status != http.StatusSeeOther {
		t.Errorf("a real link posted from the throttled address: %d, want 303", a.status)
	}
	evs, err := h.store.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recorded := 0
	for _, ev := range evs {
		if ev.Resource != "admin.selfservice.open" || ev.Outcome != "FAILED" {
			continue
		}
		recorded++
		if !strings.Contains(ev.Reason, "198.51.100.7") {
			t.Errorf("a refused link's record names no address: %+v", ev)
		}
	}
	if recorded != linkAuditBurst {
		t.Errorf("records of %d unknown links posted: %d, want %d", n, recorded, linkAuditBurst)
	}
}
