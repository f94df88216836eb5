// Package verifyfiles finds IBM's published Verify files (the DUO webhook and provider) for
// tests. They live in shared/verify beside the repository and are deliberately not copied
// into it, so a user's fresh clone has none: tests skip there, with a clear message, while
// CI (EMFA_REQUIRE_SHARED set) fails instead of skipping.
package verifyfiles

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is the shared/ folder: $EMFA_SHARED_DIR, else ../shared beside the module.
func Dir() string {
	if dir := os.Getenv("EMFA_SHARED_DIR"); dir != "" {
		return dir
	}
	_, file, _, _ := runtime.Caller(0) // .../internal/verifyfiles/verifyfiles.go
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared")
}

// Path returns the path of shared/verify/name, skipping tb when it is absent (failing
// when EMFA_REQUIRE_SHARED is set).
func Path(tb testing.TB, name string) string {
	tb.Helper()
	path := filepath.Join(Dir(), "verify", name)
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("EMFA_REQUIRE_SHARED") != "" {
			tb.Fatalf("IBM's %s is required (EMFA_REQUIRE_SHARED is set): %v", name, err)
		}
		tb.Skipf("IBM's %s is not beside this repository (%v): set EMFA_SHARED_DIR to the shared/ folder to run this test", name, err)
	}
	return path
}

// Read returns the contents of shared/verify/name, with Path's skip rule.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(Path(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
