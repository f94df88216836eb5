package config

import (
	"strings"
	"testing"
)

// TestReferenceInAMapKey: a ${NAME} written as a key where any name is taken
// (a sender under delivery, a capability under a provider's policy, a key of an engine's
// section) stayed the text "${NAME}" without a word: a sender no one names, a policy
// that restricts no capability, a header sent under the name "${HDR}". It is refused as
// in a section of known keys: keys are not expanded.
func TestReferenceInAMapKey(t *testing.T) {
	vars := env(map[string]string{"SENDER": "mail", "CAP": "totp", "HDR": "X-Api-Key", "K": "v"})
	for _, tc := range []struct{ from, to, want string }{
		{"storage:\n", "delivery:\n  \"${SENDER}\": {type: log}\nstorage:\n", `delivery: key "${SENDER}" is not expanded`},
		{"capabilities: [totp]}", "capabilities: [totp], policy: {\"${CAP}\": 'true'}}", `providers[0].policy: key "${CAP}" is not expanded`},
		{"capabilities: [totp]}", "capabilities: [totp], engine: remote, remote: {headers: {\"${HDR:-X-Key}\": \"${K}\"}}}", `providers[0].remote.headers: key "${HDR:-X-Key}" is not expanded`},
		{"capabilities: [totp]}", "capabilities: [totp], builtin: {totp: [{\"a${K}b\": 1}]}}", `providers[0].builtin.totp[0]: key "a${K}…" is not expanded`},
	} {
		y := strings.Replace(minimalYAML, tc.from, tc.to, 1)
		if y == minimalYAML {
			t.Fatalf("%s: not in the YAML", tc.from)
		}
		_, err := Parse([]byte(y), "yaml", vars)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %s", tc.to, err, tc.want)
		}
	}
	// A reference in a value of those sections is expanded as before.
	y := strings.Replace(minimalYAML, "capabilities: [totp]}", "capabilities: [totp], policy: {totp: '\"${K}\" in user.groups'}}", 1)
	cfg, err := Parse([]byte(y), "yaml", vars)
	if err != nil || cfg.Providers[0].Policy["totp"] != `"v" in user.groups` {
		t.Errorf("a reference in a policy's value: %v", err)
	}
}
