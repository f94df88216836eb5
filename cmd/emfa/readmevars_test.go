package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's complete configuration reads ${EMFA_API_KEY}, and nothing in the README said
// where that comes from: emfa check (which the README's tests run) only warns of it, but
// the reader who pasted the example and exported the two variables the README names got
// `emfa serve: emfa.yaml:10: server.auth.header.value: environment variable EMFA_API_KEY is
// not set`. Every variable a complete configuration of the README reads (outside its
// comments) is now one the README shows how to set (export NAME=…).
func TestReadmeConfigVariablesAreSet(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	ref := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)
	checked := 0
	for _, b := range readmeBlocks(t) {
		if b.lang != "yaml" || b.excerpt() {
			continue
		}
		for _, l := range b.lines {
			code, _, _ := strings.Cut(l, "#") // a comment's variable is for a line left out
			for _, m := range ref.FindAllStringSubmatch(code, -1) {
				checked++
				if !regexp.MustCompile(`export [^\n` + "`" + `]*\b` + m[1] + `=`).MatchString(readme) {
					t.Errorf("README.md:%d reads ${%s}, which the README never shows how to set (export %s=…): %s",
						b.line, m[1], m[1], strings.TrimSpace(l))
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no variable of a complete configuration found: the README changed shape")
	}
}
