package config

import (
	"strings"
	"testing"
)

// TestReferenceInAKey: a ${NAME} written as a key is refused saying that keys are
// not expanded, and naming the reference; the hint about a value written into a key
// (C62's unknown-key redaction) does not apply to it.
func TestReferenceInAKey(t *testing.T) {
	for _, key := range []string{"${LISTEN_KEY}", "${LISTEN_KEY:-listen}"} {
		y := strings.Replace(minimalYAML, "server:\n", "server:\n  \""+key+"\": 127.0.0.1:9000\n", 1)
		_, err := Parse([]byte(y), "yaml", env(map[string]string{"LISTEN_KEY": "listen"}))
		want := `server: unknown key "` + key + `": a key is not expanded (${…} is, in values)`
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "space after the colon") {
			t.Errorf("%s: got %v, want %s", key, err, want)
		}
	}
}
