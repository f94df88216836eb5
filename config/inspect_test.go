package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// f95File is a file with problems found loading it: a duration without its unit (line 2)
// and a misspelt key (line 10), its builtin section (line 8) decoded all the same.
const f95File = `server:
  requestTimeout: 10
  auth: {allowAnonymous: true}
storage: {dsn: ":memory:", encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers:
  - name: A
    credentialPrefix: a
    builtin: {totp: {digits: 12}}
    engine: builtin
    capabilites: [totp]
`

func writeF95(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(f95File), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Load returns no configuration for a file with problems; Inspect returns it as far as
// it decoded, with the same error, and its problems beside it, for the checks after
// loading to report theirs in the same run.
func TestInspectKeepsWhatDecoded(t *testing.T) {
	path := writeF95(t)
	opts := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, loadErr := Load(path, opts)
	if cfg != nil || loadErr == nil {
		t.Fatalf("Load: %v, %v", cfg, loadErr)
	}
	cfg, err := Inspect(path, opts)
	if cfg == nil || err == nil || err.Error() != loadErr.Error() {
		t.Fatalf("Inspect: %v, %v (Load: %v)", cfg, err, loadErr)
	}
	if len(cfg.Providers) != 1 || cfg.Providers[0].Builtin["totp"] == nil || cfg.Source != path {
		t.Errorf("Inspect's configuration: %+v", cfg)
	}
	if got := len(cfg.Problems()); got != 2 {
		t.Errorf("Problems: %d, want 2: %v", got, cfg.Problems())
	}
	// A file that loads has none.
	os.WriteFile(path, []byte(strings.Replace(strings.Replace(f95File, "capabilites", "capabilities", 1), "10\n", "10s\n", 1)), 0o600)
	if cfg, err := Inspect(path, opts); err != nil || cfg == nil || cfg.Problems() != nil {
		t.Fatalf("Inspect of a good file: %v, %v", cfg, err)
	}
	// A file that cannot be read as a configuration has no configuration to inspect.
	os.WriteFile(path, []byte("server: [\n"), 0o600)
	if cfg, err := Inspect(path, opts); cfg != nil || err == nil {
		t.Fatalf("Inspect of a broken file: %v, %v", cfg, err)
	}
}

// Beside puts the problems the checks after loading found among those of loading, in
// the file's order, leaving out those that follow from one of loading: at, under or above
// its path, or under the key a misspelt one was meant for.
func TestBesideMergesInFileOrder(t *testing.T) {
	path := writeF95(t)
	cfg, _ := Inspect(path, Options{LookupEnv: func(string) (string, bool) { return "", false }})
	more := cfg.Annotate(Errors{
		&FieldError{Path: "providers[0].builtin.totp.digits", Msg: "must be 6 or 8, not 12"},
		&FieldError{Path: "providers[0].capabilities[0]", Msg: "follows from the misspelt key"},
		&FieldError{Path: "server.requestTimeout", Msg: "follows from the value that did not decode"},
	}).(Errors)
	var es Errors
	if !errors.As(cfg.Beside(more), &es) {
		t.Fatalf("Beside: %v", cfg.Beside(more))
	}
	got := es.Error()
	want := path + ":2: server.requestTimeout: 10 has no unit: write 10s (or ms, m, h)\n" +
		path + ":8: providers[0].builtin.totp.digits: must be 6 or 8, not 12\n" +
		path + `:10: providers[0]: unknown key "capabilites" (did you mean "capabilities"?)`
	if got != want {
		t.Errorf("Beside:\n%s\nwant:\n%s", got, want)
	}
	if line, ok := cfg.ProblemAt("providers[0].capabilities"); !ok || line != 10 {
		t.Errorf("ProblemAt(capabilities): %d, %v", line, ok)
	}
	if _, ok := cfg.ProblemAt("providers[0].builtin"); ok {
		t.Errorf("ProblemAt(builtin): a problem where there is none")
	}
	if cfg.Beside(nil) == nil {
		t.Errorf("Beside(nil): the problems of loading are lost")
	}
}

// InspectData is Inspect on bytes that are no file (emfa's embedded default): the
// configuration as far as it decoded, beside the problems Parse reports, which name no
// file; a document that is not YAML returns none.
func TestInspectDataKeepsWhatDecoded(t *testing.T) {
	opts := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	_, parseErr := Parse([]byte(f95File), "yaml", opts)
	cfg, err := InspectData([]byte(f95File), opts)
	if cfg == nil || err == nil || err.Error() != parseErr.Error() {
		t.Fatalf("InspectData: %v, %v; want a configuration and Parse's error %v", cfg, err, parseErr)
	}
	if cfg.Source != "" || len(cfg.Problems()) != 2 || cfg.Providers[0].Builtin == nil {
		t.Errorf("source %q, problems %v, builtin %v", cfg.Source, cfg.Problems(), cfg.Providers[0].Builtin)
	}
	if cfg, err := InspectData([]byte("a: [b"), opts); cfg != nil || err == nil {
		t.Errorf("not YAML: %v, %v", cfg, err)
	}
}
