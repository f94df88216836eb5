package main

import (
	"strings"
	"testing"
)

// TestRemoteValueOfWrongKind: a remote section's value of the wrong kind is named by
// its key and line, as everywhere else in the configuration. Before, `timeout: abc` said
// only `time: invalid duration "abc"` (which key?), `timeout: 5` and `maxResponseBytes:
// 1MB` spoke of Go struct fields and types, and none had a line.
func TestRemoteValueOfWrongKind(t *testing.T) {
	provider := func(extra string) string {
		return `providers:
  - name: V
    credentialPrefix: v
    capabilities: [totp]
    engine: remote
    remote:
      urls: ["https://vendor.example.com"]
      resources:
        test: {suffix: /t}
` + extra
	}
	cases := []struct{ extra, want string }{
		{"      timeout: abc\n", `:20: providers[0] (v).remote.timeout: must be a duration such as 5s or 1m30s, not "abc"`},
		{"      timeout: 5\n", `:20: providers[0] (v).remote.timeout: 5 has no unit: write 5s (or ms, m, h)`},
		{"      ejectFor: 30\n", `:20: providers[0] (v).remote.ejectFor: 30 has no unit: write 30s (or ms, m, h)`},
		{"      maxResponseBytes: 1MB\n", `:20: providers[0] (v).remote.maxResponseBytes: must be a whole number, not a string`},
		{"      headers: X-Api\n", `:20: providers[0] (v).remote.headers: must be a list, not a string`},
	}
	for _, c := range cases {
		cfg := writeTestConfig(t, "", provider(c.extra))
		code, _, errOut := emfa(t, "check", "--config", cfg)
		if code != 1 || !strings.Contains(errOut, c.want) || strings.Contains(errOut, "Go struct") {
			t.Errorf("%q: exit %d, %q; want 1 and %q", strings.TrimSpace(c.extra), code, errOut, c.want)
		}
	}
}

// TestRemoteDurationBesideOtherProblems: a remote section's duration without its unit
// stopped the section's check there: its authentication type misspelt and a transform
// that does not compile were said only once the duration was fixed, one run per problem,
// where emfa check lists every problem at once.
func TestRemoteDurationBesideOtherProblems(t *testing.T) {
	cfg := writeTestConfig(t, "", `providers:
  - name: V
    credentialPrefix: v
    capabilities: [push]
    engine: remote
    remote:
      urls: ["https://vendor.example.com"]
      timeout: 5
      authentication: {type: heder}
      resources:
        initiate:
          suffix: /start
          transform:
            incoming: '{"body": {"status": status}}'
`)
	code, _, errOut := emfa(t, "check", "--config", cfg)
	for _, want := range []string{
		":18: providers[0] (v).remote.timeout: 5 has no unit",
		":19: providers[0] (v).remote.authentication.type: unknown type",
		":24: providers[0] (v).remote.resources.initiate.transform.incoming: 1:21: undeclared reference to 'status'",
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, want 1 and %q in:\n%s", code, want, errOut)
		}
	}
}
