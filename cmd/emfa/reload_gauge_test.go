package main

import (
	"strings"
	"testing"
)

// TestMetricsSayTheLastReloadFailed: the metrics said only how many reloads had
// failed, and the alert on them (increase over 15 minutes) resolved a quarter of an hour
// after a failed reload while the file on disk was still the one refused: the next
// restart, whenever it came, would not start. emfa_config_last_reload_successful says
// whether the last reload applied: 0 from a failed one until one that applies.
func TestMetricsSayTheLastReloadFailed(t *testing.T) {
	cfg := writeConfig(t, "")
	good := mustRead(t, cfg)
	base, _, reload := reloadingServe(t, cfg)
	const last = "emfa_config_last_reload_successful{}"
	if v, ok := scrape(t, base, "")[last]; !ok || v != 1 {
		t.Errorf("at start: %s %v (exported %v), want 1", last, v, ok)
	}
	replaceFile(t, cfg, strings.Replace(good, "capabilities: [totp]", "capabilities: [totp]\n    colour: red", 1))
	if err := reload(); err == nil {
		t.Fatal("a bad file was reloaded")
	}
	if v := scrape(t, base, "")[last]; v != 0 {
		t.Errorf("after a failed reload: %s %v, want 0", last, v)
	}
	replaceFile(t, cfg, good)
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if v := scrape(t, base, "")[last]; v != 1 {
		t.Errorf("after a reload that applied: %s %v, want 1", last, v)
	}
}
