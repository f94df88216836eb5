package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/lifecycle"
)

// TestLimitedNameCountsAgainstTheAddress: once a user name's page attempts reach
// their limit, each further attempt is refused 429 unchecked, and recorded (FAILED, "page
// sign-in limit reached; not checked"). That refusal did not count against the client
// address's budget, which every other failed sign-in, and every unknown link, counts
// against: from one address, anyone who knows a user name used up its attempts with five
// wrong codes, then posted the same sign-in's code form for ever, each post a row in the
// audit trail under that user's name, the address never throttled. Counted as the failed
// sign-in it is, the address is held to its budget, and so are the rows.
func TestLimitedNameCountsAgainstTheAddress(t *testing.T) {
	for _, method := range []string{"app", "push"} {
		t.Run(method, func(t *testing.T) {
			h := newPushPageHarness(t)
			if code, out := h.admin(t, h.write, "POST", "/admin/v1/users", `{"name":"alice"}`); code != 201 {
				t.Fatalf("create: %d %v", code, out)
			}
			_, _ = totpFactor(t, h, "alice")
			clk := &fakeClock{t: time.Now()}
			h.srv.signIns.now = clk.Now
			p := &pageClient{t: t, h: h, addr: "198.51.100.7"}
			p.get("/self-service/")
			if a := p.startSignIn("alice", "app"); a.status != http.StatusOK {
				t.Fatalf("start: %d", a.status)
			}
			// Five wrong codes: alice's attempts on the page are used up for a quarter of an hour.
			for i := range 5 {
				if a := p.post("/self-service/signin/code", url.Values{"code": {"000000"}}); !codeRefused(a) {
					t.Fatalf("wrong code %d: %d %q", i+1, a.status, a.header.Get("Location"))
				}
				p.get("/self-service/signin/code")
			}
			const posts = 3 * throttleBurst
			throttled := false
			for range posts {
				var a pageAnswer
				if method == "app" {
					a = p.post("/self-service/signin/code", url.Values{"code": {"000000"}})
				} else {
					a = p.post("/self-service/signin", url.Values{"username": {"alice"}, "method": {"push"}})
				}
				if a.status != http.StatusTooManyRequests {
					t.Fatalf("an attempt past alice's limit: %d, want 429", a.status)
				}
				throttled = throttled || strings.Contains(a.body, "from your network")
			}
			limited := h.auditFailures(t, lifecycle.AdminResource(lifecycle.ActionSelfServiceSignIn), "page sign-in limit reached; not checked")
			if limited >= posts || !throttled {
				t.Errorf("%d attempts past alice's limit from one address: %d recorded, address throttled %v; want the address's budget (%d) to bound them",
					posts, limited, throttled, throttleBurst)
			}
		})
	}
}
