package main

import (
	"strings"
	"testing"
)

// duo-admin.yaml, the example of a DUO Admin API vendor operators copy, was checked with
// two warnings (its user.create and user.update transforms) that their worst-case cost
// cannot be estimated: they form-encode a putAll chain, and putAll's estimated result gave
// its entry count only, not the sizes of its keys and values that jsonToFormURLEncoded's
// estimate reads. It now states them, and the example checks clean.
func TestDUOAdminChecksWithoutCostWarning(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	code, _, errOut := emfa(t, "check", "--config", duoAdminConfig)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if got := grepLines(errOut, "worst-case cost"); got != "" {
		t.Errorf("%s warns of its transforms' cost:\n%s", duoAdminConfig, got)
	}
}

// duoAdminCreateForm is the form duo-admin.yaml's user.create step create sends, and
// signs: it is written twice.
const duoAdminCreateForm = `{"username": event.username, "status": "active"}`

// withUnboundedCost is text, duo-admin.yaml or its provider, with its user.create step
// create building its form with format, whose result's size no estimate knows: a
// transform of unbounded cost, honestly, which sends and signs what it did.
func withUnboundedCost(t testing.TB, text string) string {
	t.Helper()
	if n := strings.Count(text, duoAdminCreateForm); n != 2 {
		t.Fatalf("%s writes %s %d times, want twice (sent and signed)", duoAdminConfig, duoAdminCreateForm, n)
	}
	return strings.ReplaceAll(text, duoAdminCreateForm, `{"username": "%s".format([event.username]), "status": "active"}`)
}
