package adapter

import (
	"strings"
	"testing"
)

// TestOktaFactorDeactivatedByTheUser: Okta sends user.mfa.factor.deactivate when a user
// removes one of their own Okta factors (Okta Verify on a new phone, an old SMS number), not
// only when an administrator resets them. By default only a reset by someone else (an
// administrator, Okta itself) resets the user's emfa factors: one of the user's own Okta
// factors is not their emfa ones, and deleting those on it lost every factor they had
// enrolled (and sent them to enrollment again). sync.okta.mfaReset chooses.
func TestOktaFactorDeactivatedByTheUser(t *testing.T) {
	byUser := `"actor":{"id":"00u1","type":"User","alternateId":"a"},`
	byAdmin := `"actor":{"id":"00uADMIN","type":"User","alternateId":"admin@example.com"},`
	event := func(typ, actor string) string {
		return oktaBatch(strings.Replace(okEv("1", typ, "a", 1), `"outcome"`, actor+`"outcome"`, 1))
	}
	for _, tc := range []struct {
		mode, typ, actor string
		reset            bool
	}{
		{"", "user.mfa.factor.deactivate", byUser, false},
		{"", "user.mfa.factor.deactivate", byAdmin, true},
		{"", "user.mfa.factor.deactivate", "", true},    // no actor: as before
		{"", "user.mfa.factor.reset_all", byUser, true}, // an administrator's own: all of them
		{"", "user.mfa.factor.reset_all", byAdmin, true},
		{OktaResetOthers, "user.mfa.factor.deactivate", byUser, false},
		{OktaResetAll, "user.mfa.factor.deactivate", byUser, true},
		{OktaResetAll, "user.mfa.factor.reset_all", byAdmin, true},
		{OktaResetNone, "user.mfa.factor.deactivate", byAdmin, false},
		{OktaResetNone, "user.mfa.factor.reset_all", byAdmin, false},
	} {
		p, err := parseOktaAs(tc.mode)(nil, []byte(event(tc.typ, tc.actor)))
		if err != nil {
			t.Fatal(err)
		}
		if got := len(p.events) == 1; got != tc.reset || (!got && p.ignored != 1) {
			t.Errorf("mfaReset %q, %s by %q: %d events, %d ignored; want a reset: %v", tc.mode, tc.typ, tc.actor, len(p.events), p.ignored, tc.reset)
		}
	}
	// Every other event of the user's own doing applies whatever the mode.
	p, err := parseOktaAs(OktaResetNone)(nil, []byte(event("user.lifecycle.suspend", byUser)))
	if err != nil || len(p.events) != 1 {
		t.Errorf("a suspension: %+v %v", p, err)
	}
}
