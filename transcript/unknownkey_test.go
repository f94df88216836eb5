package transcript

import (
	"strings"
	"testing"
)

// TestUnknownKeyShownUpToItsName: in a flow section, a key written with its
// value and no space after the colon (secret:SEED) is one key, unknown; the problem
// quoted it whole, a TOTP seed or a passcode with it, into the output replay prints in
// CI logs. It is shown up to its name, with the key meant.
func TestUnknownKeyShownUpToItsName(t *testing.T) {
	const seed = "GEZDGNBVGY3TQOJQGEZDGNBV"
	for _, src := range []string{
		"name: x\nconfig: c\nsetup:\n  - user: alice\n    factor: {type: totp, secret:" + seed + "}\nsteps: [{advance: 1m}]\n",
		"name: x\nconfig: c\nsteps:\n  - {advance: 1m, call:" + seed + "}\n",
	} {
		_, err := Parse([]byte(src))
		if err == nil {
			t.Fatalf("Parse(%q): no error", src)
		}
		msg := err.Error()
		if strings.Contains(msg, seed) || strings.Contains(msg, seed[:8]) {
			t.Errorf("the problem shows the value written in the key: %s", msg)
		}
		if !strings.Contains(msg, "unknown key") || !strings.Contains(msg, "did you mean") {
			t.Errorf("the problem does not say which key was meant: %s", msg)
		}
	}
}
