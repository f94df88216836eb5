package transform

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

const functionsGolden = "../testdata/transform/functions.golden"

// TestFunctionsGolden fails when the functions or overloads the environment offers change, for
// example after a cel-go upgrade, so that no change to what operators' transforms mean goes
// unnoticed. Run `go test ./transform -run FunctionsGolden -update` to accept a change.
func TestFunctionsGolden(t *testing.T) {
	env, err := NewEnvWithVariables(nil)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# Functions of emfa's transform environment, one overload a line:\n")
	b.WriteString("# name [verify|emfa only]: overload ID (argument types) -> result type\n")
	b.WriteString("# Regenerate with: go test ./transform -run FunctionsGolden -update\n")
	decls := env.cel.Functions()
	for _, name := range Functions() {
		tag := ""
		if slices.Contains(EmfaOnlyFunctions(), name) {
			tag = " [emfa only]"
		} else if slices.Contains(VerifyFunctions(), name) {
			tag = " [verify]"
		}
		var lines []string
		for _, o := range decls[name].OverloadDecls() {
			var args []string
			for _, a := range o.ArgTypes() {
				args = append(args, cel.FormatCELType(a))
			}
			member := ""
			if o.IsMemberFunction() {
				member = "member "
			}
			lines = append(lines, fmt.Sprintf("%s%s: %s%s(%s) -> %s\n", name, tag, member, o.ID(),
				strings.Join(args, ", "), cel.FormatCELType(o.ResultType())))
		}
		slices.Sort(lines)
		for _, l := range lines {
			b.WriteString(l)
		}
	}
	got := b.String()
	if *update {
		if err := os.MkdirAll(filepath.Dir(functionsGolden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(functionsGolden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(functionsGolden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("functions changed (-golden +now); if intended, run with -update:\n%s", diff)
	}
}
