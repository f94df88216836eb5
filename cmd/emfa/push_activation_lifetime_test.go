package main

import (
	"strings"
	"testing"
)

// TestPushActivationLifetimeWithinLifecycle: a push device's activation code was
// printed with an expiresAt of push.activationLifetime, which nothing bounded, while
// the sweeper deletes a factor still pending after lifecycle.activationLifetime (7 days
// by default): a code set to last three weeks (inWebo's figure for a link) stopped
// registering after one, refused as "invalid, expired or already used" before its
// expiresAt. emfa check now refuses a code lifetime the pending device cannot outlive.
func TestPushActivationLifetimeWithinLifecycle(t *testing.T) {
	conf := func(lifecycle, push string) string {
		return writeTestConfig(t, "", lifecycle+`providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, push]
    engine: builtin
    builtin:
      push: {activationLifetime: `+push+`}
`)
	}
	code, _, stderr := emfa(t, "check", "--config", conf("", "504h"))
	if code == 0 || !strings.Contains(stderr, "push.activationLifetime") || !strings.Contains(stderr, "lifecycle.activationLifetime") {
		t.Errorf("a 3-week push code beside the 7-day default: exit %d\n%s", code, stderr)
	}
	code, _, stderr = emfa(t, "check", "--config", conf("lifecycle: {activationLifetime: 2h}\n", "3h"))
	if code == 0 || !strings.Contains(stderr, "push.activationLifetime") {
		t.Errorf("a 3h push code beside lifecycle.activationLifetime 2h: exit %d\n%s", code, stderr)
	}
	for _, c := range []struct{ lifecycle, push string }{{"", "168h"}, {"", "10m"}, {"lifecycle: {activationLifetime: 600h}\n", "504h"}} {
		if code, _, stderr := emfa(t, "check", "--config", conf(c.lifecycle, c.push)); code != 0 {
			t.Errorf("push %s, %q: exit %d\n%s", c.push, c.lifecycle, code, stderr)
		}
	}
}
