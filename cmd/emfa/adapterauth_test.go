package main

import (
	"testing"

	"github.com/emfa/emfa/config"
)

// TestAdapterAuthWeakSecrets: server.auth.allowWeakSecrets reaches the adapter, which
// then refuses a throttled address before checking its (possibly guessable) credentials.
func TestAdapterAuthWeakSecrets(t *testing.T) {
	for _, weak := range []bool{false, true} {
		var cfg config.Config
		cfg.Server.Auth = config.Auth{Basic: &config.BasicAuth{Username: "verify"}, AllowWeakSecrets: weak}
		if got := adapterAuth(&cfg).WeakSecrets; got != weak {
			t.Errorf("allowWeakSecrets %v: the adapter's WeakSecrets is %v", weak, got)
		}
	}
}
