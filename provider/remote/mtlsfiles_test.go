package remote

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMTLSFilesReadAtValidate: mtls files that exist but hold no certificate or key
// passed Validate (only their existence was checked), so emfa check said ok and serve
// refused to start without the file and line. Validate now loads them as the engine will.
func TestMTLSFilesReadAtValidate(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "hostname")
	if err := os.WriteFile(notPEM, []byte("emfa-host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &Webhook{URLs: []string{"https://vendor.example"}, Authentication: Authentication{Type: AuthMTLS,
		MTLS: MTLS{Cert: notPEM, Key: notPEM, CA: notPEM}}}
	err := w.Validate()
	for _, path := range []string{"authentication.mtls.cert: ", "authentication.mtls.ca: "} {
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("got %v, want %s…", err, path)
		}
	}
}
