package config

import (
	"strings"
	"testing"
	"time"
)

// TestMergeKeys: a merge key takes a list of sections as YAML's merge type
// defines it (the first listed wins, keys written beside it win over all), and anything
// else under << is refused at its line: a list was dropped without a word, its settings
// left at their defaults (a sender's timeout, a server's listen), and a scalar too. A key
// written beside a merge wins whatever the case either is written in.
func TestMergeKeys(t *testing.T) {
	const senders = `
delivery:
  slow: &slow {type: log, timeout: 30s}
  fast: &fast {type: log, timeout: 200ms}
`
	cfg, err := Parse([]byte(minimalYAML+senders+`
  x:
    <<: [*fast, *slow]
  y:
    <<: [*slow]
    TimeOut: 5s
  z:
    Timeout: 6s
    <<: *slow
`), "yaml", env(nil))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]Delivery{
		"x": {Type: "log", Timeout: 200 * time.Millisecond},
		"y": {Type: "log", Timeout: 5 * time.Second},
		"z": {Type: "log", Timeout: 6 * time.Second},
	} {
		if got := cfg.Delivery[name]; got.Type != want.Type || got.Timeout != want.Timeout {
			t.Errorf("delivery.%s: type %q timeout %s, want %q %s", name, got.Type, got.Timeout, want.Type, want.Timeout)
		}
	}
	for name, merge := range map[string]string{
		"a scalar":               `"oops"`,
		"a list holding a value": `[*slow, 7]`,
		"a list":                 `[[*slow]]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(minimalYAML+senders+"  x:\n    <<: "+merge+"\n"), "yaml", env(nil))
			if err == nil || !strings.Contains(err.Error(), "line 14: ") || !strings.Contains(err.Error(), "delivery.x: << (a merge) takes") {
				t.Errorf("<<: %s: %v, want a refusal at line 14", merge, err)
			}
		})
	}
}
