package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestSecretExampleRefused: secret.example.yaml's placeholders never run. It is
// not in the kustomization, but `kubectl apply -f deploy/kubernetes` applies every file
// of the directory: emfa must then refuse to start rather than serve with a Verify
// password and an encryption key printed in this repository.
func TestSecretExampleRefused(t *testing.T) {
	kinds := map[string]map[string]any{}
	for _, f := range []string{"kubernetes/configmap.yaml", "kubernetes/secret.example.yaml"} {
		for _, d := range docs(t, f) {
			kinds[d["kind"].(string)] = d
		}
	}
	cfg := at(t, kinds["ConfigMap"], "data", "emfa.yaml").(string)
	tmp := t.TempDir()
	data := at(t, kinds["Secret"], "stringData").(map[string]any)
	if len(data) == 0 {
		t.Fatal("the example Secret has no stringData")
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(tmp, k), []byte(v.(string)), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg = strings.ReplaceAll(cfg, "${file:/run/secrets/emfa/"+k+"}", "${file:"+filepath.Join(tmp, k)+"}")
	}
	path := filepath.Join(tmp, "emfa.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path, config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err == nil || !strings.Contains(err.Error(), "encryptionKey") {
		t.Errorf("the configuration with the example Secret's values: %v, want the encryption key refused", err)
	}
}
