package adapter

import (
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/lifecycle"
)

// TestSessionOfASpentLinkEnds: a link opened in two browsers, one of which set up
// a sign-in method with it, is spent; the other's session can do nothing more, and its
// next step says so ("used already") and clears its cookie. The session itself lived on
// in the store, for as long as it was used (each use extends it, up to the link's end):
// whoever kept a copy of its cookie opened the choice page again and again, each time a
// row in the audit trail (FAILED, "link spent") under the user's name, under no budget.
// Refused for its spent link, the session ends, as one whose link was replaced does.
func TestSessionOfASpentLinkEnds(t *testing.T) {
	h, _ := newSelfServiceHarness(t)
	first := openLink(t, h)
	second := &pageBrowser{h: h}
	second.do(t, "GET", first.linkPath, nil)
	second.do(t, "GET", "/self-service/enroll", nil)
	kept := second.cookie

	first.do(t, "POST", "/self-service/enroll", url.Values{"type": {"totp"}})
	right, _ := totp.GenerateCode(secretShown.FindStringSubmatch(first.body)[1], time.Now())
	if code := first.do(t, "POST", "/self-service/confirm", url.Values{"code": {right}}); code != 200 {
		t.Fatalf("the first browser's set-up: %d %s", code, first.body)
	}
	for range 3 * throttleBurst {
		second.cookie = kept // a copy of the cookie, kept
		second.do(t, "GET", "/self-service/enroll", nil)
	}
	n := h.auditFailures(t, lifecycle.AdminResource(lifecycle.ActionSelfServiceChoose), "link spent")
	if n > 1 {
		t.Errorf("the session of a spent link opened the choice %d times: %d rows, want it ended at the first", 3*throttleBurst, n)
	}
}
