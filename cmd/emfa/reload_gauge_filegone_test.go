package main

import (
	"net/http"
	"os"
	"testing"
)

// TestGaugeOnAFileGone: a reload that cannot read its file at all (removed, as a
// ConfigMap's key renamed) fails before loading anything: the gauge says so, readiness
// does not (the previous configuration still serves), and a later reload that applies
// sets it back.
func TestGaugeOnAFileGone(t *testing.T) {
	cfg := writeConfig(t, "")
	good := mustRead(t, cfg)
	base, _, reload := reloadingServe(t, cfg)
	const last = "emfa_config_last_reload_successful{}"
	if err := os.Remove(cfg); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Fatal("a reload without its file applied")
	}
	if v := scrape(t, base, "")[last]; v != 0 {
		t.Errorf("after a reload without its file: %s %v, want 0", last, v)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz after a failed reload: %d, want 200: the previous configuration still serves", resp.StatusCode)
	}
	replaceFile(t, cfg, good)
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if v := scrape(t, base, "")[last]; v != 1 {
		t.Errorf("after a reload that applied: %s %v, want 1", last, v)
	}
}
