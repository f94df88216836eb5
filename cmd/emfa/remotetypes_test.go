package main

import (
	"fmt"
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

// TestRemoteValueBesideOtherProblems: a remote section's value that does not read (a
// duration without its unit, a number written as 1MB, a key misspelt) stopped the section's check there:
// its authentication type misspelt and a transform that does not compile were said only
// once the value was fixed, one run per problem, where emfa check lists every problem at
// once. Two values of the wrong kind are both said; so is a key misspelt.
func TestRemoteValueBesideOtherProblems(t *testing.T) {
	cases := []struct {
		bad  string
		want []string
	}{
		{"      timeout: 5\n", []string{":18: providers[0] (v).remote.timeout: 5 has no unit"}},
		{"      maxResponseBytes: 1MB\n", []string{":18: providers[0] (v).remote.maxResponseBytes: must be a whole number, not a string"}},
		{"      maxResponseBytes: 1MB\n      timeout: 5\n      headers: X-Api\n", []string{
			":18: providers[0] (v).remote.maxResponseBytes: must be a whole number, not a string",
			":19: providers[0] (v).remote.timeout: 5 has no unit",
			":20: providers[0] (v).remote.headers: must be a list, not a string",
		}},
		{"      timeot: 5s\n", []string{`:18: providers[0] (v).remote.timeot: unknown key (did you mean "timeout"?)`}},
	}
	for _, c := range cases {
		cfg := writeTestConfig(t, "", `providers:
  - name: V
    credentialPrefix: v
    capabilities: [push]
    engine: remote
    remote:
      urls: ["https://vendor.example.com"]
`+c.bad+`      authentication: {type: heder}
      resources:
        initiate:
          suffix: /start
          transform:
            incoming: '{"body": {"status": status}}'
`)
		code, _, errOut := emfa(t, "check", "--config", cfg)
		extra := strings.Count(c.bad, "\n") - 1
		want := append(c.want,
			fmt.Sprintf(":%d: providers[0] (v).remote.authentication.type: unknown type", 19+extra),
			fmt.Sprintf(":%d: providers[0] (v).remote.resources.initiate.transform.incoming: 1:21: undeclared reference to 'status'", 24+extra))
		for _, w := range want {
			if code != 1 || !strings.Contains(errOut, w) {
				t.Errorf("%q: exit %d, want 1 and %q in:\n%s", strings.TrimSpace(c.bad), code, w, errOut)
			}
		}
	}
}
