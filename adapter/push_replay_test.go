package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
)

// TestEndedPushSignInReplayIsBudgeted: a push sign-in that timed out (or was
// denied) is over: "continue" answers the sign-in form, saying so, records the end
// (FAILED, "push timeout") and seals the browser a cookie without it. But the cookie it
// replaces still opens until its own end (the session's idle time, 10 minutes, against a
// push's 2), and "continue", the one step of a sign-in under no budget, answered each
// post of it the same way, with a row each time: anyone could start a push sign-in for
// any user name, wait two minutes, then post the old cookie's "continue" for eight, a
// row in the trail under that name each time, never throttled. A sign-in that ends
// unapproved is a failed sign-in, counted against the address as a wrong code is.
func TestEndedPushSignInReplayIsBudgeted(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	h := newPushPageHarnessAt(t, clk)
	h.srv.signIns.now = clk.Now
	if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
		t.Fatalf("create: %d %v", code, out)
	}
	p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
	p.get("/self-service/")
	if a := p.startSignIn("alice", "push"); a.status != http.StatusOK || !strings.Contains(a.body, `action="/self-service/signin/continue"`) {
		t.Fatalf("start: %d\n%s", a.status, a.body)
	}
	started, csrf := p.cookie, p.csrf
	clk.Advance(2*time.Minute + time.Second) // a push's lifetime: the sign-in timed out

	const posts = 3 * throttleBurst
	throttled := false
	for i := range posts {
		p.cookie, p.csrf = started, csrf // the cookie of the sign-in under way, again
		a := p.post("/self-service/signin/continue", url.Values{})
		switch {
		case a.status == http.StatusSeeOther && a.header.Get("Location") == "/self-service/?ended=timeout":
		case a.status == http.StatusTooManyRequests && strings.Contains(a.body, "from your network"):
			throttled = true
		default:
			t.Fatalf("continue %d: %d %q\n%s", i+1, a.status, a.header.Get("Location"), a.body)
		}
	}
	ended := h.auditFailures(t, lifecycle.AdminResource(lifecycle.ActionSelfServiceSignIn), "push timeout")
	if ended >= posts || !throttled {
		t.Errorf("%d posts of a timed-out sign-in's continue from one address: %d recorded, address throttled %v; want the address's budget (%d) to bound them",
			posts, ended, throttled, throttleBurst)
	}
}
