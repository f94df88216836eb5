package config

import (
	"errors"
	"strings"
	"testing"
)

// A provider's engine that is misspelt, as a value (remot) or as its key (engin), or that
// did not decode, is said once, with the engine it was probably meant to be: its remote
// section was also refused as "only a remote engine takes a remote section", which only
// follows from it (the engine then the default, builtin).
func TestMisspeltEngineSaidOnce(t *testing.T) {
	for _, tc := range []struct{ engine, want string }{
		{"engine: remot", `providers[0].engine: unknown engine: did you mean "remote"? (want builtin or remote)`},
		{"engine: Remote", `providers[0].engine: unknown engine: did you mean "remote"? (want builtin or remote)`},
		{"engine: quantum", `providers[0].engine: unknown engine (want builtin or remote)`},
		{"engin: remote", `providers[0]: unknown key "engin" (did you mean "engine"?)`},
		{"engine: [remote]", `providers[0].engine: must be a string, not a list`},
	} {
		data := `server: {auth: {allowAnonymous: true}}
storage: {dsn: ":memory:", encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [push]
    ` + tc.engine + `
    remote:
      baseUrl: https://vendor.example
`
		_, err := Parse([]byte(data), "yaml", Options{LookupEnv: func(string) (string, bool) { return "", false }})
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || !strings.HasSuffix(es[0].Error(), tc.want) {
			t.Errorf("%s: %v\nwant one problem: %s", tc.engine, err, tc.want)
		}
	}
}

// An engine whose ${NAME} is unset (emfa check without the environment) is warned about,
// and its remote section is not refused for an engine it might not be.
func TestUnsetEngineRefusesNoSection(t *testing.T) {
	data := `server: {auth: {allowAnonymous: true}}
storage: {dsn: ":memory:", encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [push]
    engine: ${EMFA_TEST_ENGINE}
    remote:
      baseUrl: https://vendor.example
`
	cfg, err := Parse([]byte(data), "yaml", Options{Unset: UnsetIsWarning, LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil || len(cfg.Warnings) == 0 || !strings.Contains(cfg.Warnings[0], "EMFA_TEST_ENGINE") {
		t.Errorf("%v, warnings %q: want no problem, the unset variable warned about", err, cfg.Warnings)
	}
}
