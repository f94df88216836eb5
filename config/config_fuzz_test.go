package config

import (
	"os"
	"testing"
)

// FuzzParse loads configurations: whatever the document, Parse answers a configuration
// that validates or an error (no panic), and ${NAME} expansion terminates.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../testdata/config/emfa.yaml", "../testdata/config/duo.yaml", "../cmd/emfa/default.yaml"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, false)
		}
	}
	f.Add([]byte(fullYAML), false)
	f.Add([]byte(`{"server":{"auth":{"allowAnonymous":true}},"storage":{"dsn":":memory:","encryptionKey":"`+testKey+`"},"providers":[{"name":"A","credentialPrefix":"a","capabilities":["totp"]}]}`), true)
	f.Add([]byte("server: {trustedProxies: [10.0.0.0/8, '::1'], auth: {header: {name: X, value: ' '}}}\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, asJSON bool) {
		if len(data) > 32<<10 {
			return
		}
		format := "yaml"
		if asJSON {
			format = "json"
		}
		lookup := Options{LookupEnv: func(name string) (string, bool) {
			switch name {
			case "EMFA_ENCRYPTION_KEY":
				return testKey, true
			case "UNSET":
				return "", false
			}
			return "value-of-" + name + "-0123456789", true
		}}
		cfg, err := Parse(data, format, lookup)
		if err != nil {
			return
		}
		if cfg == nil {
			t.Fatal("no configuration and no error")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("an accepted configuration does not validate again: %v", err)
		}
	})
}
