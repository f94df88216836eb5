package remote

import (
	"fmt"
	"strings"
	"testing"
)

// TestReviewLookupNoAlloc: finding a capability's resource ("push_1") on every initiate,
// validate and result allocates nothing (fmt.Sprintf and strings.ToLower made one or two
// allocations a call), and finds what the lower-cased fmt.Sprintf name found, a capability
// beyond ASCII or longer than the stack buffer included.
func TestReviewLookupNoAlloc(t *testing.T) {
	generic := &resource{name: "initiate"}
	long := strings.Repeat("X", 80)
	e := &Engine{resources: map[string]*resource{"initiate": generic}}
	for _, c := range []string{"push", "Push", "SMS", "ÉMAIL", "straße", long, "a_b"} {
		e.resources[strings.ToLower(fmt.Sprintf("%s_%d", c, 1))] = &resource{name: c}
	}
	for _, c := range []string{"push", "PUSH", "Push", "sms", "SMS", "émail", "ÉMAIL", "STRASSE", "straße", "STRAßE", long, strings.ToLower(long), "A_B", "totp", ""} {
		want := generic
		if r, ok := e.resources[strings.ToLower(fmt.Sprintf("%s_%d", c, 1))]; ok && c != "" {
			want = r
		}
		if got := e.lookup("initiate", c, 1); got != want {
			t.Errorf("lookup(%q) = %v, want %v", c, got, want)
		}
	}
	if got := e.lookup("initiate", "push", 2); got != generic {
		t.Errorf("lookup(push, 2) = %v, want the generic resource", got)
	}
	if reviewRace {
		t.Skip("allocation counts differ under -race")
	}
	if n := testing.AllocsPerRun(100, func() { e.lookup("initiate", "Push", 1) }); n != 0 {
		t.Errorf("lookup allocates %v times a call, want 0", n)
	}
}
