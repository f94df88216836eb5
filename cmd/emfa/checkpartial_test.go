package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/config"
)

// FuzzCheckPartial runs emfa check --config on mutated configurations: the checks made
// after loading run on a configuration as far as it decoded (config.Inspect), which they
// were first written for whole ones. Whatever the file, check answers (no panic), and each
// problem it reports says where: a line of the file or a path in it.
//
// Bytes mutated at random seldom stay YAML, so the target also breaks one node of the
// document, the at-th, in the way how says (breakNode): a section that did not decode,
// a misspelt key, a key left out, a list where a string was.
func FuzzCheckPartial(f *testing.F) {
	var seeds [][]byte
	files, _ := filepath.Glob("../../testdata/config/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, data)
		}
	}
	for _, b := range readmeBlocks(f) {
		if b.lang == "yaml" {
			seeds = append(seeds, []byte(strings.Join(b.lines, "\n")))
		}
	}
	for _, s := range seeds {
		for how := range uint8(breakWays) {
			f.Add(s, uint16(0), how)
			f.Add(s, uint16(17*(how+1)), how)
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, at uint16, how uint8) {
		if len(data) > 32<<10 {
			return
		}
		data = breakNode(data, int(at), how)
		path := filepath.Join(dir, "emfa.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		d := &deps{stdout: &out, stderr: &out, now: time.Now}
		checkProblemsLocated(t, path, d.check(storeOptions{config: path}), data)
	})
}

// breakWays is how many ways breakNode knows.
const breakWays = 7

// breakNode is the YAML document data with its at-th node (counting every node, depth
// first, modulo their number) broken the how-th way; data as it is when it is not YAML.
func breakNode(data []byte, at int, how uint8) []byte {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return data
	}
	type slot struct {
		parent *yaml.Node
		i      int // the node's index in parent.Content
	}
	var slots []slot
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		for i, c := range n.Content {
			slots = append(slots, slot{n, i})
			walk(c)
		}
	}
	walk(&doc)
	if len(slots) == 0 {
		return data
	}
	s := slots[at%len(slots)]
	n := s.parent.Content[s.i]
	isKey := s.parent.Kind == yaml.MappingNode && s.i%2 == 0
	switch how % breakWays {
	case 0: // a number where anything was
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: "5"}
	case 1: // a list
		*n = yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{{Kind: yaml.ScalarNode, Value: "x"}}}
	case 2: // an empty section
		*n = yaml.Node{Kind: yaml.MappingNode}
	case 3: // null
		*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case 4: // a misspelt key, or a value one letter off
		if n.Kind == yaml.ScalarNode && len(n.Value) > 1 {
			n.Value = n.Value[:len(n.Value)-1]
		}
	case 5: // the key and its value left out, or the item of a list
		switch {
		case s.parent.Kind == yaml.MappingNode:
			k := s.i &^ 1
			s.parent.Content = append(s.parent.Content[:k:k], s.parent.Content[k+2:]...)
		case s.parent.Kind == yaml.SequenceNode:
			s.parent.Content = append(s.parent.Content[:s.i:s.i], s.parent.Content[s.i+1:]...)
		}
	case 6: // an empty string
		if !isKey {
			*n = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return data
	}
	return out
}

// checkProblemsLocated fails t for a problem of err, check's answer on the file at path,
// that says neither a line of the file nor a path in it.
func checkProblemsLocated(t *testing.T, path string, err error, data []byte) {
	t.Helper()
	var es config.Errors
	if !errors.As(err, &es) {
		return // none, or the file is not a configuration at all (a syntax error, at its line)
	}
	for _, e := range es {
		if fe := (*config.FieldError)(nil); errors.As(e, &fe) {
			if fe.Line == 0 && fe.Path == "" {
				t.Errorf("a problem of neither line nor path: %q\n--- file:\n%s", e, data)
			}
			continue
		}
		// Not a FieldError: its text names the key after the file's name.
		rest, _ := strings.CutPrefix(e.Error(), path+": ")
		key, _, ok := strings.Cut(rest, ": ")
		if !ok || key == "" || strings.Contains(key, " ") && !strings.Contains(key, "(") {
			t.Errorf("a problem of neither line nor path: %q\n--- file:\n%s", e, data)
		}
	}
}
