package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The README's Development table says what each package owns; seven internal packages
// were added without their line, and nothing noticed. Every directory of Go code (tests
// aside) is named there.
func TestReadmePackageTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); d.IsDir() && path != "../.." && err == nil {
			return filepath.SkipDir // a module of its own (a generator), not one of emfa's packages
		}
		if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			if rel, _ := filepath.Rel("../..", filepath.Dir(path)); rel != "." {
				dirs[filepath.ToSlash(rel)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		if !strings.Contains(string(readme), "`"+dir+"`") {
			t.Errorf("the README's package table does not name `%s`", dir)
		}
	}
}
