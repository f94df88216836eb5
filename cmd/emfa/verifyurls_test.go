package main

import (
	"encoding/json"
	"slices"
	"testing"
)

// TestExportSeveralURLs: Verify calls a webhook's urls round robin and retries on
// another (verify-contract.md §12), so replicas Verify reaches one by one are listed, one
// --url each; a repeated --url is not silently reduced to the last.
func TestExportSeveralURLs(t *testing.T) {
	cfg := oauthConfig(t)
	out := mustEmfa(t, "verify", "export", "--config", cfg, "--auth", "basic",
		"--url", "https://emfa-a.example.com", "--url", "https://emfa-b.example.com/")
	var pairs []verifyPair
	if err := json.Unmarshal([]byte(out), &pairs); err != nil || len(pairs) != 1 {
		t.Fatalf("export: %v\n%s", err, out)
	}
	want := []any{"https://emfa-a.example.com/v1/providers/emfa", "https://emfa-b.example.com/v1/providers/emfa"}
	if got, _ := pairs[0].Webhook["urls"].([]any); !slices.Equal(got, want) {
		t.Errorf("urls %v, want %v", got, want)
	}
	if code, _, errOut := emfa(t, "verify", "export", "--config", cfg, "--auth", "basic",
		"--url", "https://emfa-a.example.com", "--url", "emfa-b"); code != 2 || errOut == "" {
		t.Errorf("a second --url that is not a URL: exit %d %q", code, errOut)
	}
}
