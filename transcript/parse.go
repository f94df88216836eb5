package transcript

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/provider/builtin"
)

// ParseError is every problem of a transcript's text, in the file's order: each at its
// line, in words a transcript's author uses (keys and paths, not Go types).
type ParseError struct {
	File     string // set by Load
	Problems []Problem
}

// Problem is one problem of a transcript, at Path (steps[3].call; "" for the file) and
// Line (0: no line).
type Problem struct {
	Line int
	Path string
	Msg  string
}

func (e *ParseError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msg := p.Msg
		if p.Path != "" {
			msg = p.Path + ": " + msg
		}
		switch {
		case e.File != "" && p.Line > 0:
			msg = fmt.Sprintf("%s:%d: %s", e.File, p.Line, msg)
		case e.File != "":
			msg = e.File + ": " + msg
		case p.Line > 0:
			msg = fmt.Sprintf("line %d: %s", p.Line, msg)
		}
		lines[i] = msg
	}
	return strings.Join(lines, "\n")
}

// parseNode reads data as one YAML document. A syntax error is reported at the line
// that makes it (the YAML parser names the start of the enclosing block instead).
func parseNode(data []byte) (*yaml.Node, *ParseError) {
	var doc yaml.Node
	err := yaml.Unmarshal(data, &doc)
	if err == nil && len(doc.Content) == 0 {
		err = io.EOF
	}
	switch {
	case err == nil:
		return doc.Content[0], nil
	case errors.Is(err, io.EOF):
		return nil, &ParseError{Problems: []Problem{{Msg: "the file is empty (a transcript needs name, config and steps)"}}}
	}
	line, msg := syntaxFault(data, err)
	if strings.Contains(msg, "expected key") || strings.Contains(msg, "'-' indicator") || strings.Contains(msg, "mapping values are not allowed") {
		msg += " (is this line indented as the lines it belongs with?)"
	}
	return nil, &ParseError{Problems: []Problem{{Line: line, Msg: "YAML syntax: " + msg}}}
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxFault is the line of a YAML syntax error and its message. The parser names the
// start of the block it was reading, which for a long list is far above the fault: the
// fault's line is the first one that, with the lines before it, makes the same error.
func syntaxFault(data []byte, err error) (int, string) {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	reported, _ := strconv.Atoi(m[1])
	lines := bytes.SplitAfter(data, []byte("\n"))
	same := func(k int) bool {
		var n yaml.Node
		err := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		return err != nil && err.Error() == m[0]
	}
	lo, hi := max(reported, 1), len(lines)
	if lo > hi || !same(hi) {
		return reported, m[2]
	}
	for lo < hi { // the first k with same(k), if the errors grow with the prefix
		mid := (lo + hi) / 2
		if same(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, m[2]
}

var (
	durationType = reflect.TypeFor[Duration]()
	timeType     = reflect.TypeFor[time.Time]()
	stringsType  = reflect.TypeFor[Strings]()
)

// checker walks a transcript's YAML against the types it decodes into, for every unknown
// key and every value of the wrong kind, and keeps the line of every path.
type checker struct {
	problems []Problem
	lines    map[string]int
}

func (c *checker) add(n *yaml.Node, path, msg string) {
	c.problems = append(c.problems, Problem{Line: n.Line, Path: path, Msg: msg})
}

func (c *checker) check(n *yaml.Node, t reflect.Type, path string) {
	if _, ok := c.lines[path]; !ok {
		c.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode {
		// Not followed: an alias may be its own ancestor, or expand a billion times; the
		// decoder checks what it names (and a problem of it is at the alias's line).
		return
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch t {
	case durationType:
		var d Duration
		if n.Kind != yaml.ScalarNode || n.Decode(&d) != nil {
			c.add(n, path, "want a duration like 30s or 3m, got "+got(n))
		} else if d < 0 {
			// The clock only moves forward: a TOTP step or an expiry is not undone.
			c.add(n, path, "want a positive duration (the clock does not go back), got "+got(n))
		}
		return
	case timeType:
		if n.Kind != yaml.ScalarNode || n.Decode(new(time.Time)) != nil {
			c.add(n, path, "want a time like 2026-01-01T00:00:00Z, got "+got(n))
		}
		return
	case stringsType:
		if n.Decode(new(Strings)) != nil {
			c.add(n, path, "want a string or a list of strings, got "+got(n))
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		return // any value: a body, a matcher
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, fmt.Sprintf("want keys (%s: …), got %s", firstKey(t), got(n)))
			return
		}
		fields := map[string]reflect.Type{}
		var names []string
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			fields[name] = f.Type
			names = append(names, name)
		}
		if t == factorSpecType {
			// A factor's setup also takes its type's own fields (FactorSpec.Params).
			for _, name := range typeParams(n) {
				if _, ok := fields[name]; !ok {
					fields[name] = stringsType
					names = append(names, name)
				}
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				// In a flow section {secret:SEED} (no space after the colon) is one key, a
				// value in it: shown up to its name, since replay's output is a CI log.
				name, rest := keyName(k.Value)
				shown := name
				if rest {
					shown += "…"
				}
				msg := fmt.Sprintf("unknown key %q", shown)
				if near := suggest.Nearest(name, names); near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				if rest {
					msg += ": a value written after the key without a space after the colon is read as part of the key (the rest is not shown)"
				}
				c.add(k, path, msg)
				continue
			}
			c.check(v, ft, joinKey(path, k.Value))
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			c.add(n, path, "want a list, got "+got(n))
			return
		}
		for i, e := range n.Content {
			c.check(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			c.add(n, path, "want keys (name: value), got "+got(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			c.check(n.Content[i+1], t.Elem(), joinKey(path, n.Content[i].Value))
		}
	default:
		if path == "config" && n.Kind != yaml.ScalarNode {
			c.add(n, path, "want the configuration as text (config: |, then the configuration indented below), got "+got(n))
			return
		}
		if n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil {
			c.add(n, path, "want "+kindWords(t)+", got "+got(n))
		}
	}
}

var factorSpecType = reflect.TypeFor[FactorSpec]()

// typeParams are the enrollment fields of the factor type a setup's mapping n names
// (its type key); none for a type the engine does not know.
func typeParams(n *yaml.Node) []string {
	var names []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value != "type" {
			continue
		}
		fields, _ := builtin.FieldsOf(n.Content[i+1].Value)
		for _, f := range fields {
			names = append(names, f.Name)
		}
	}
	return names
}

// keyName is a key's leading name (letters, digits, '_', '-', '.'), and whether more
// follows it (config's keyName reads an unknown key so too).
func keyName(k string) (string, bool) {
	i := strings.IndexFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	})
	if i < 0 {
		return k, false
	}
	return k[:i], true
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// firstKey is the key a mapping of t's usually starts with, to show what one looks like.
func firstKey(t reflect.Type) string {
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" && !strings.Contains(t.Field(i).Tag.Get("yaml"), "omitempty") {
			return name
		}
	}
	name, _, _ := strings.Cut(t.Field(0).Tag.Get("yaml"), ",")
	return name
}

func kindWords(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.Kind().String()
}

// got says what a node is, as its author wrote it.
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "keys"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}
