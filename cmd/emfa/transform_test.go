package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emfa transform eval needs only the secrets of the provider it runs: not Verify's
// password nor the store's key, which it never uses (a command needs only the secrets it
// uses). Its provider's own secrets stay required, each named with its line.
func TestTransformEvalNeedsOnlyItsProvidersSecrets(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", "")
	t.Setenv("DUO_API_URL", "https://api-x.duosecurity.com")
	t.Setenv("DUO_IKEY", "DIXXXXXXXXXXXXXXXXXX")
	t.Setenv("DUO_SKEY", "duo-signing-key-0123456789abcdef0123456")
	const duo = "../../testdata/config/duo.yaml"
	input := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(input, []byte(`{"body": {"username": "alice"}, "now": "2026-11-22T10:00:00Z"}`), 0o600)
	args := []string{"transform", "eval", "--config", duo, "--provider", "duo", "--resource", "enrollments", "--direction", "outgoing", "--input", input}
	code, out, errOut := emfa(t, args...)
	if code != 0 || !strings.Contains(out, `"body": "username=alice"`) || errOut != "" {
		t.Errorf("without the serving secrets: exit %d\n%s%s", code, out, errOut)
	}
	t.Setenv("DUO_SKEY", "")
	code, _, errOut = emfa(t, args...)
	if code != 1 || !strings.Contains(errOut, duo+":33: providers[0].remote.authentication.header.values[1].value: environment variable DUO_SKEY is not set") ||
		strings.Contains(errOut, "EMFA_VERIFY_PASSWORD") {
		t.Errorf("without the provider's own secret: exit %d\n%s", code, errOut)
	}
}

// A provider's credentialPrefix is matched in any case everywhere else (the contract's
// path, Verify's policies), but transform eval took --provider DUO for no provider, and a
// name mistyped got "no remote provider" without the ones there are.
func TestTransformEvalProviderNamed(t *testing.T) {
	t.Setenv("DUO_API_URL", "https://api-x.duosecurity.com")
	t.Setenv("DUO_IKEY", "DIXXXXXXXXXXXXXXXXXX")
	t.Setenv("DUO_SKEY", "duo-signing-key-0123456789abcdef0123456")
	const duo = "../../testdata/config/duo.yaml"
	input := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(input, []byte(`{"body": {"username": "alice"}}`), 0o600)
	eval := func(prefix string) (int, string, string) {
		return emfa(t, "transform", "eval", "--config", duo, "--provider", prefix, "--resource", "enrollments", "--direction", "outgoing", "--input", input)
	}
	if code, out, errOut := eval("DUO"); code != 0 || !strings.Contains(out, `"body": "username=alice"`) {
		t.Errorf("--provider DUO: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := eval("dou"); code != 1 || !strings.Contains(errOut, `did you mean "duo"?`) {
		t.Errorf("--provider dou: exit %d\n%s", code, errOut)
	}
}
