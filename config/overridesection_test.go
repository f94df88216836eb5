package config

import (
	"strings"
	"testing"
)

// TestOverrideKeepsTheFilesMistake: an EMFA_* variable under a section the file
// wrote as something else (admin: false, meant as admin.enabled: false) leaves the file's
// value to be refused at its line: the variable replaced it with a section of its own
// without a word, so the admin API the operator believed off was served on the variable's
// listener.
func TestOverrideKeepsTheFilesMistake(t *testing.T) {
	for _, tc := range []struct{ file, env, want string }{
		{"admin: false\n", "EMFA_ADMIN_LISTEN", "admin: must be a section of keys, not false"},
		{"metrics: off\n", "EMFA_METRICS_TOKEN", "metrics: must be a section of keys, not a string"},
		{"tracing: [x]\n", "EMFA_TRACING_ENDPOINT", "tracing: must be a section of keys, not a list"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			_, err := Parse([]byte(minimalYAML+tc.file), "yaml", env(map[string]string{tc.env: "127.0.0.1:9090-0123456789abcdef"}))
			if err == nil || !strings.Contains(err.Error(), "line 9: "+tc.want) {
				t.Errorf("got %v, want line 9: %s", err, tc.want)
			}
		})
	}
	// A section the file leaves empty (admin:) or does not write takes the variable.
	cfg, err := Parse([]byte(minimalYAML+"admin:\n"), "yaml", env(map[string]string{"EMFA_ADMIN_LISTEN": "127.0.0.1:9090"}))
	if err != nil || cfg.Admin.Listen != "127.0.0.1:9090" {
		t.Errorf("admin: with EMFA_ADMIN_LISTEN: %v", err)
	}
}
