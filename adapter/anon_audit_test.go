package adapter

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/emfa/emfa/lifecycle"
)

// TestAnonymousConfirmWritesNoAudit: the set-up's confirm form belongs to a link's
// session or a signed-in one. Posted from the sign-in form's session, which anyone on the
// internet gets for the asking and which no budget holds here, it was answered "this
// set-up cannot be finished" after an audit row for each post: FAILED, the factor id the
// form named (any text), under the user name of the sign-in started in that session (any
// user's), as though that user's set-up had been replaced. A script could fill the trail,
// and put rows of its choosing in any user's. Refused as a session that may not confirm,
// it writes nothing, as the other steps do.
func TestAnonymousConfirmWritesNoAudit(t *testing.T) {
	h, _, p := aliceOnPage(t)
	action := lifecycle.AdminResource(lifecycle.ActionSelfServiceConfirm)
	before := len(h.auditRows(t, action))

	p.get("/self-service/")
	p.post("/self-service/confirm", url.Values{"factor": {"forged-by-anyone"}, "code": {"123456"}})
	// In the session of a sign-in started for alice: a row under her name.
	p.get("/self-service/")
	if a := p.startSignIn("alice", "app"); a.status != http.StatusOK {
		t.Fatalf("start a sign-in: %d\n%s", a.status, a.body)
	}
	for range 3 {
		p.get("/self-service/signin/code") // the sign-in's page, whose token the form carries
		a := p.post("/self-service/confirm", url.Values{"factor": {"forged-by-anyone"}, "code": {"123456"}})
		if a.status < 400 || a.status >= 500 {
			t.Fatalf("confirm from a sign-in's session: %d, want a refusal\n%s", a.status, a.body)
		}
	}
	rows := h.auditRows(t, action)
	for _, r := range rows[:len(rows)-before] {
		t.Errorf("an anonymous confirm wrote an audit row: user %q, factor %q, %s %q", r.Username, r.FactorID, r.Outcome, r.Reason)
	}
}
