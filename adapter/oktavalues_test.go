package adapter

import (
	"strings"
	"testing"
)

// TestOktaValuesAsOktaSpellsThem: what an Okta event's values select is
// compared as Okta spells it (its System Log's eventType, lower case; a target's type,
// "User" and "UserGroup"), not folded as its keys are (which encoding/json matches in any
// case): "User.Lifecycle.Deactivate" is no event type of Okta's and disables no one (it is
// ignored), and a target of type "user" is no User target (the event is refused, saying
// so). The one value compared in any case is outcome.result's FAILURE: it only keeps
// emfa from acting, and a failure in any case did not happen.
func TestOktaValuesAsOktaSpellsThem(t *testing.T) {
	ev := func(uuid, typ, targetType, result string) string {
		e := okEv(uuid, typ, "alice@example.com", 2)
		e = strings.Replace(e, `"type":"User"`, `"type":"`+targetType+`"`, 1)
		return strings.Replace(e, `"SUCCESS"`, `"`+result+`"`, 1)
	}
	for _, tc := range []struct{ name, event, want string }{
		{"Okta's own", ev("1", "user.lifecycle.deactivate", "User", "SUCCESS"), "user.disable alice@example.com"},
		{"eventType in another case", ev("1", "User.Lifecycle.Deactivate", "User", "SUCCESS"), "ignored"},
		{"FAILURE", ev("1", "user.lifecycle.deactivate", "User", "FAILURE"), "ignored"},
		{"failure in another case", ev("1", "user.lifecycle.deactivate", "User", "Failure"), "ignored"},
		{"target type in another case", ev("1", "user.lifecycle.deactivate", "user", "SUCCESS"), "refused: data.events[1]: no User target with an alternateId"},
	} {
		p, err := parseOkta(nil, []byte(oktaBatch(ev("0", "user.session.start", "User", "SUCCESS"), tc.event)))
		got := ""
		switch {
		case err != nil:
			got = "error " + err.Error()
		case len(p.events) == 1:
			got = p.events[0].Type + " " + p.events[0].Username
		case p.nRefused == 1:
			got = "refused: " + p.refused[0]
		case p.ignored == 2:
			got = "ignored"
		}
		if got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
