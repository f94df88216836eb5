package adapter

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/lifecycle"
)

// TestRefusedLinksKeepTheBudgets: an unknown link counts against the address's
// budget, and is recorded only for the address's first few, lest a flood fill the audit
// trail. A link that exists but opens nothing (spent, expired, its user disabled) was
// recorded at every opening, whatever the budgets, and counted against none: whoever has
// an old link (a used invitation, one pasted into a ticket; a spent link is kept a day)
// could open it in a loop, a row in the trail under its user's name each time, never
// throttled. It is a link that does not work, counted and recorded as the unknown ones.
func TestRefusedLinksKeepTheBudgets(t *testing.T) {
	for _, why := range []string{"spent", "expired", "user disabled"} {
		t.Run(why, func(t *testing.T) {
			clk := &fakeClock{t: time.Now()}
			h := newPushPageHarnessAt(t, clk)
			h.srv.signIns.now, h.srv.pages.linkAudits.now = clk.Now, clk.Now
			p := openLink(t, h)
			token := p.linkPath[strings.LastIndex(p.linkPath, "/")+1:]
			switch why {
			case "spent":
				p.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
				right, _ := totp.GenerateCode(secretShown.FindStringSubmatch(p.body)[1], clk.Now())
				if code := p.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 {
					t.Fatalf("confirm: %d %s", code, p.body)
				}
			case "expired":
				clk.Advance(time.Hour) // the link's lifetime
			case "user disabled":
				if code, out := h.admin(t, h.write, "POST", "/admin/v1/users/alice/disable", ""); code != 200 {
					t.Fatalf("disable: %d %v", code, out)
				}
			}
			rows := func() int {
				n := 0
				for _, r := range h.auditRows(t, lifecycle.AdminResource(lifecycle.ActionSelfServiceOpen)) {
					if r.Outcome == "FAILED" {
						n++
					}
				}
				return n
			}
			before := rows()
			const opens = 3 * throttleBurst
			throttled := 0
			for range opens {
				a := (&pageClient{t: t, h: h, addr: "198.51.100.7"}).get("/self-service/link/" + token)
				switch a.status {
				case http.StatusTooManyRequests:
					throttled++
				case http.StatusNotFound, http.StatusConflict:
				default:
					t.Fatalf("the %s link: %d\n%s", why, a.status, a.body)
				}
			}
			if n := rows() - before; n > linkAuditBurst || throttled == 0 {
				t.Errorf("the %s link opened %d times from one address: %d recorded, %d throttled; want at most %d recorded and the rest throttled",
					why, opens, n, throttled, linkAuditBurst)
			}
		})
	}
}
