package adapter

import (
	"strings"
	"testing"
)

// TestOktaResetAllByThemself: user.mfa.factor.reset_all is Okta's "reset all
// factors", an administrator's (the admin console, the API's reset_factors), never a
// user's removing one of their own Okta factors, which is what sync.okta.mfaReset's
// default leaves out. An administrator who resets all of their own factors is the actor
// and the target both: it resets their emfa factors too, as it does anyone else's.
func TestOktaResetAllByThemself(t *testing.T) {
	self := `"actor":{"id":"00u1","type":"User","alternateId":"a"},`
	event := oktaBatch(strings.Replace(okEv("1", "user.mfa.factor.reset_all", "a", 1), `"outcome"`, self+`"outcome"`, 1))
	for _, mode := range []string{"", OktaResetOthers} {
		p, err := parseOktaAs(mode)(nil, []byte(event))
		if err != nil {
			t.Fatal(err)
		}
		if len(p.events) != 1 {
			t.Errorf("mfaReset %q: reset_all of one's own factors: %d events, %d ignored; want the reset", mode, len(p.events), p.ignored)
		}
	}
	// One factor the user deactivates themself is still not a reset.
	p, err := parseOktaAs("")(nil, []byte(strings.Replace(event, "reset_all", "deactivate", 1)))
	if err != nil || len(p.events) != 0 || p.ignored != 1 {
		t.Errorf("deactivate by the user: %+v %v", p, err)
	}
}
