package postgres

import (
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMigrationFunctionsListed: migrationFunctions names every function a
// migration creates, with that migration, so that a restore of a backup from before it
// finds the function dropped and not in its way (dropLeftoverFunctions).
func TestMigrationFunctionsListed(t *testing.T) {
	listed := map[string]int64{}
	for _, f := range migrationFunctions {
		listed[f.name] = f.version
	}
	created := regexp.MustCompile(`(?i)CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+"?(\w+)"?\s*\(`)
	entries, err := fs.ReadDir(Migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, e := range entries {
		b, err := fs.ReadFile(Migrations, "migrations/"+e.Name())
		if err != nil {
			t.Fatal(err)
		}
		up, _, _ := strings.Cut(string(b), "-- +goose Down")
		num, _, _ := strings.Cut(e.Name(), "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range created.FindAllStringSubmatch(up, -1) {
			found[m[1]] = true
			if v, ok := listed[m[1]]; !ok || v != version {
				t.Errorf("%s creates function %s: migrationFunctions has it at %d (listed: %v), want %d", e.Name(), m[1], v, ok, version)
			}
		}
	}
	for name := range listed {
		if !found[name] {
			t.Errorf("migrationFunctions lists %s, which no migration creates", name)
		}
	}
}
