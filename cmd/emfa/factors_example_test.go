package main

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// Each `emfa factors add TYPE --help` showed `emfa factors add TYPE --user alice --config
// emfa.yaml` as its example, which for a type with a required field (smsotp's --phone,
// emailotp's --email, question's pairs) was refused as pasted: "factors add smsotp needs
// --phone". Every type's example now runs as it stands.
func TestFactorsAddExamplesRun(t *testing.T) {
	cfg := writeTestConfig(t, "", `delivery:
  dev: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, hotp, smsotp, emailotp, voicecall, push, question]
    builtin:
      smsotp: {sender: dev}
      emailotp: {sender: dev}
      voicecall: {sender: dev}
      push: {serverURL: "https://emfa.example.com"}
      question: {enabled: true}
`)
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, typ := range builtin.Types() {
		help := mustEmfa(t, "factors", "add", typ, "--help")
		_, example, ok := strings.Cut(help, "Examples:\n")
		if !ok {
			t.Errorf("%s: no example in\n%s", typ, help)
			continue
		}
		line := strings.TrimSpace(strings.SplitN(example, "\n", 2)[0])
		args := shellWords(strings.TrimPrefix(line, "emfa "))
		for i, a := range args {
			if a == "emfa.yaml" {
				args[i] = cfg
			}
		}
		if code, _, errOut := emfa(t, args...); code != 0 {
			t.Errorf("%s's example %q: exit %d\n%s", typ, line, code, errOut)
		}
	}
}

// shellWords splits a command line as a shell does words, with double quotes.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case r == ' ' && !quoted:
			if in {
				words = append(words, cur.String())
				cur.Reset()
			}
			in = false
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
