package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/internal/suggest"
)

// UnsetMode says what a ${NAME} naming an unset variable is.
type UnsetMode int

const (
	// UnsetIsError refuses the configuration (emfa serve: it would run without a secret).
	UnsetIsError UnsetMode = iota
	// UnsetIsWarning reports it as a warning and checks everything else as if it were set
	// (emfa check on a machine without the secrets; commands that do not use them).
	UnsetIsWarning
)

// Options tune loading; the zero value reads the process environment and requires every
// ${NAME} to be set.
type Options struct {
	// LookupEnv resolves ${NAME} references and EMFA_* overrides; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Unset is what an unset ${NAME} is; default UnsetIsError.
	Unset UnsetMode
	// Need, with UnsetIsWarning, lists the sections whose references must still be set
	// (["storage"] for a command that opens the store): they stay errors.
	Need []string
	// Environ lists the environment (NAME=value), for a warning about an EMFA_ variable
	// one typo away from an override; default os.Environ when LookupEnv is nil too, else
	// none (a test's LookupEnv is not the process's environment).
	Environ func() []string
}

func (o Options) environ() []string {
	switch {
	case o.Environ != nil:
		return o.Environ()
	case o.LookupEnv == nil:
		return os.Environ()
	}
	return nil
}

func (o Options) lookup() func(string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv
	}
	return os.LookupEnv
}

// Load reads, expands, decodes, defaults and validates the configuration file at path.
// The returned error lists every problem found (see Errors), each with the file, its
// line where the YAML has one, and its path.
func Load(path string, opts Options) (*Config, error) {
	cfg, err := Inspect(path, opts)
	if err != nil {
		return nil, err // never a configuration that did not load
	}
	return cfg, nil
}

// Inspect is Load for a checker (emfa check): where the file was read but has problems
// (a misspelt key, a value of the wrong type or out of range), it returns, beside Load's
// error, the configuration as far as it decoded, so that the checks made after loading
// (an engine's own section, a transform, a sender) find their problems in the same run:
// before, an operator mended the file's problems, ran check again, and only then learnt
// of the engine's. Such a Config is for checking alone: its Problems are not empty, and
// nothing may run on it (Load returns none). A file that cannot be read as a
// configuration at all (a YAML syntax error) returns none either.
func Inspect(path string, opts Options) (*Config, error) {
	data, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	return inspect(data, path, opts)
}

// InspectData is Inspect on bytes already read (Parse's YAML), for a checker of a
// configuration that is no file (emfa's embedded default): its problems are annotated
// with no file, and the caller names the source.
func InspectData(data []byte, opts Options) (*Config, error) {
	return inspect(data, "", opts)
}

// inspect is Inspect's work on data, read from source ("": none).
func inspect(data []byte, source string, opts Options) (*Config, error) {
	cfg, err := parse(data, opts)
	if err != nil && cfg == nil {
		if source == "" {
			return nil, err
		}
		if se := (*syntaxError)(nil); errors.As(err, &se) && se.line > 0 {
			return nil, fmt.Errorf("%s:%d: %s", source, se.line, se.msg) // as every other problem
		}
		return nil, fmt.Errorf("config %s: %w", source, err)
	}
	cfg.Source = source
	cfg.warnUnset()
	if err == nil {
		return cfg, nil
	}
	err = cfg.invalid(err)
	if !errors.As(err, &cfg.problems) {
		return nil, err
	}
	return cfg, err
}

// Problems are the problems Inspect found loading c, annotated and in the file's order;
// nil for a Config that loaded.
func (c *Config) Problems() Errors { return c.problems }

// Beside is every problem of c: those Inspect found loading it and more, those the checks
// made after loading found (annotated), in the file's order (the load's first among those
// of one line); nil when there are none. A problem of more that is about a path a load's
// problem is about already (at it, under it or above it: a value that did not decode, a
// section that is not one), or under the key a misspelt key was meant for (capabilites:
// the capabilities then empty), follows from that problem and is left out: each is said
// once.
func (c *Config) Beside(more Errors) error {
	out := slices.Clone(c.problems)
	for _, e := range more {
		if fe, ok := e.(*FieldError); ok && fe.Path != "" && reported(c.problems, fe.Path) {
			continue
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil
	}
	sort.SliceStable(out, func(i, j int) bool { return lineOf(out[i]) < lineOf(out[j]) })
	return out
}

// ProblemAt is the line of the first problem Inspect found loading c that is about section
// (at it, under it or above it, or a key misspelt for it), and whether there is one: a
// check of another section that reads this one (a factor's sender under delivery) may
// find a problem that only follows from it.
func (c *Config) ProblemAt(section string) (line int, ok bool) {
	for _, e := range c.problems {
		if reported(Errors{e}, section) {
			if fe, ok := e.(*FieldError); ok {
				return fe.Line, true
			}
			return 0, true
		}
	}
	return 0, false
}

// maxConfigBytes bounds what Load reads: a configuration is kilobytes, and a path naming
// something else (the SQLite database given for emfa.yaml, a log, a device) was read
// whole into memory before the parser refused it.
const maxConfigBytes = 16 << 20

// readConfig reads the file at path, up to maxConfigBytes; a pipe (/dev/stdin) as well.
func readConfig(path string) ([]byte, error) {
	// Go's words ("open emfa.yml: no such file or directory", "read /etc/emfa: is a
	// directory") said neither what the file is for nor, for a relative path, where it
	// was looked for: serve run by a unit file or in a container starts elsewhere.
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		where := ""
		if abs, aerr := filepath.Abs(path); aerr == nil && !filepath.IsAbs(path) {
			where = " (" + abs + ": a relative path starts in the working directory)"
		}
		return nil, fmt.Errorf("config %s: no such file%s", path, where)
	}
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return nil, fmt.Errorf("config %s: %w", path, pe.Err)
	} else if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("config %s: a directory, not a configuration file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("config: %w", err)
	case len(data) > maxConfigBytes:
		return nil, fmt.Errorf("config %s: larger than %d MiB: not a configuration", path, maxConfigBytes>>20)
	}
	return data, nil
}

// Invalid is Load's and Parse's error for a configuration that was read but has
// problems: Errs are the problems, Warnings what was found on the way (variables not
// set), which a checker shows beside them: the operator who fixes the problems should
// not learn of the rest only at the next run.
type Invalid struct {
	Errs     error
	Warnings []string
}

func (e *Invalid) Error() string { return e.Errs.Error() }
func (e *Invalid) Unwrap() error { return e.Errs }

func (c *Config) invalid(err error) error {
	err = c.Annotate(err)
	if err == nil || len(c.Warnings) == 0 {
		return err
	}
	return &Invalid{Errs: err, Warnings: c.Warnings}
}

// Parse is Load on bytes already read; format is yaml or json (JSON is read as the YAML
// it also is).
func Parse(data []byte, format string, opts Options) (*Config, error) {
	if format != "yaml" && format != "yml" && format != "json" {
		return nil, fmt.Errorf("parse %s: unknown format", format)
	}
	cfg, err := parse(data, opts)
	if cfg != nil {
		cfg.warnUnset()
	}
	if err != nil && cfg != nil {
		return nil, cfg.invalid(err)
	}
	return cfg, err
}

// warnUnset puts the unset variables first among the warnings, each where it is.
func (c *Config) warnUnset() {
	var out []string
	sort.SliceStable(c.unsetWarnings, func(i, j int) bool { return c.Line(c.unsetWarnings[i].Path) < c.Line(c.unsetWarnings[j].Path) })
	for _, w := range c.unsetWarnings {
		cp := *w
		c.locate(&cp)
		out = append(out, cp.Error())
	}
	c.Warnings = append(out, c.Warnings...)
	c.unsetWarnings = nil
}

// parse does the work of Load. A nil Config with an error means the document itself
// could not be read; otherwise the Config carries the lines to annotate the error with.
func parse(data []byte, opts Options) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(data, err)
	}
	if err := oneDocument(data); err != nil {
		return nil, err
	}
	cfg := &Config{lines: map[string]int{}}
	var tree any = map[string]any{}
	if len(doc.Content) > 0 {
		var err error
		if tree, err = nodeTree(doc.Content[0], "", cfg.lines); err != nil {
			return nil, err
		}
	}
	settings, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("parse yaml: the configuration must be a section of keys, not %s", describe(tree))
	}
	lookup := opts.lookup()
	cfg.overrides = applyEnvOverrides(settings, lookup)
	cfg.Warnings = append(cfg.Warnings, misspeltOverrides(opts.environ(), data)...)
	x := &expander{lookup: lookup, opts: opts}
	expanded := x.tree(settings, "")
	cfg.unset = x.unset
	cfg.from = x.from
	errs := x.errs
	cfg.unsetWarnings = x.warnings
	errs = append(errs, Decode(expanded, cfg, "")...)
	cfg.Warnings = slices.Clip(cfg.Warnings)
	// Validate even when some values did not decode: every problem at once. A value that
	// did not decode (or lacks its variable) is reported once, not again as invalid.
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		for _, e := range err.(Errors) {
			fe, ok := e.(*FieldError)
			if ok && (reported(errs, fe.Path) || fe.follows != "" && reported(errs, fe.follows)) {
				continue
			}
			errs = append(errs, e)
		}
	}
	if errs = cfg.drop(errs); len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}

// oneDocument refuses data of more than one YAML document: the parser reads the first,
// and a second (two files pasted together, a "---" between sections) was dropped without
// a word, its settings left at their defaults while the operator believed them set. An
// empty document after the first ("---" at the end) is none.
func oneDocument(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first, next yaml.Node
	if err := dec.Decode(&first); err != nil {
		return nil // none at all: an empty file, read as such
	}
	for {
		err := dec.Decode(&next)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			err = yamlSyntaxError(data, err)
			if se, ok := err.(*syntaxError); ok && secondMarked(data, se.line) {
				se.msg = "in a second YAML document, after ---: " + se.msg
			}
			return err
		case len(next.Content) > 0 && !(next.Content[0].Kind == yaml.ScalarNode && next.Content[0].ShortTag() == "!!null"):
			return &syntaxError{next.Content[0].Line, "a second YAML document starts here, after ---: emfa reads one YAML document per file " +
				"(its settings would be ignored): put them in the first, and remove the ---"}
		}
	}
}

// secondMarked says whether a document marker ("---") after some content starts a line
// of data up to line (the parser's, which may name the line before its mistake): the
// parser also ends a first document at a line that moves out past the file's first key,
// a section pasted without its first line, where no second document was written.
func secondMarked(data []byte, line int) bool {
	content := false
	for i, s := range strings.Split(string(data), "\n") {
		if i > line {
			break
		}
		switch t := strings.TrimSpace(s); {
		case strings.HasPrefix(s, "---"):
			if content {
				return true
			}
		case t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "%"):
			content = true
		}
	}
	return false
}

// maxNodes bounds the nodes a configuration expands to, aliases included: a file of
// aliases of aliases ("billion laughs") would otherwise take all memory and time.
const maxNodes = 100_000

// maxExpandedBytes bounds the bytes of the paths and values it expands to: within
// maxNodes, aliases repeating one long key or value (60 kB, 30,000 times) took gigabytes,
// each copy's path kept for its line and its value read, expanded and decoded again.
const maxExpandedBytes = 32 << 20

// syntaxError is a document that cannot be read as a configuration, at its line (0: not
// known). Load reports it as file:line, as every other problem.
type syntaxError struct {
	line int
	msg  string
}

func (e *syntaxError) Error() string {
	if e.line == 0 {
		return "parse yaml: " + e.msg
	}
	return fmt.Sprintf("parse yaml: line %d: %s", e.line, e.msg)
}

var (
	yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	// unknownAnchor is the parser's error for *NAME with no &NAME: a value written
	// unquoted that starts with *, as a password may. It names no line, and repeats NAME.
	unknownAnchor = regexp.MustCompile(`(?s)^yaml: unknown anchor '(.*)' referenced$`)
	// quotedValue is a value as the decoder's errors quote it, between backquotes: from
	// the first to the last, since the value may hold backquotes of its own (a password's
	// tail was left in the error after the first of them).
	quotedValue = regexp.MustCompile("(?s)!!str `.*`|`.*`")
)

// yamlSyntaxError is the parser's err as a syntaxError. The parser's words for a line
// indented with a tab ("found character that cannot start any token") name neither the
// tab nor, at times, its line (it names the one before): a tab-indented line there or
// just after is named as such.
func yamlSyntaxError(data []byte, err error) error {
	if m := unknownAnchor.FindStringSubmatch(err.Error()); m != nil {
		return &syntaxError{aliasLine(data, m[1]), "a value that starts with * is an alias of an anchor (&NAME), and this one names none: " +
			"quote the value if it is text, a password say (the value is not repeated here)"}
	}
	m := yamlErrorLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &syntaxError{msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	lines := strings.Split(string(data), "\n")
	for l := line; l <= line+1 && l <= len(lines); l++ {
		text := lines[l-1]
		if indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]; strings.Contains(indent, "\t") {
			return &syntaxError{l, "indented with a tab: YAML indents with spaces only (" + m[2] + ")"}
		}
	}
	if strings.HasPrefix(m[2], "did not find expected ") {
		if l, ok := misaligned(lines, line); ok {
			return &syntaxError{l, "indented so that it lines up with no key above it: the keys of one section " +
				"start in the same column, one section's keys further in than its own (" + m[2] + ")"}
		}
	}
	return &syntaxError{line, m[2]}
}

// blockText is a value that starts a block of text (|, >, |-, >+2…): the lines after
// it, further in than its key, are text, indented as the text likes.
var blockText = regexp.MustCompile(`:\s*[|>][-+0-9]*\s*(#.*)?$`)

// misaligned is the first line, from line (the parser's, which names the line before
// the mistake or the start of the list holding it) on, that moves back out to a column
// where no enclosing key or list item starts: a key indented a space too few or too
// many, which the parser reports as "did not find expected key" (or '-' indicator).
func misaligned(lines []string, line int) (int, bool) {
	var open []int // the columns of the keys and list items enclosing the current line
	text := -1     // inside a block of text: the column of its key
	for i, s := range lines {
		trimmed := strings.TrimLeft(s, " ")
		col := len(s) - len(trimmed)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
			open, text = nil, -1 // a document starts or ends
			continue
		}
		if text >= 0 {
			if col > text {
				continue
			}
			text = -1
		}
		outer := len(open) > 0 // a line above holds something
		for len(open) > 0 && open[len(open)-1] > col {
			open = open[:len(open)-1]
		}
		// Back out to a column inside a key's, or left of the first key's (the file's
		// first line indented, the key before it lost).
		if (len(open) > 0 && open[len(open)-1] != col || outer && len(open) == 0) && i+1 >= line && col < prevCol(lines, i) {
			return i + 1, true
		}
		if len(open) == 0 || open[len(open)-1] != col {
			open = append(open, col)
		}
		// "- key: v" opens the list item's column and its keys' column.
		for strings.HasPrefix(trimmed, "- ") {
			inner := strings.TrimLeft(trimmed[1:], " ")
			col += len(trimmed) - len(inner)
			open = append(open, col)
			trimmed = inner
		}
		if blockText.MatchString(s) {
			text = len(s) - len(strings.TrimLeft(s, " "))
		}
	}
	return 0, false
}

// prevCol is the column of the last line before i that holds something.
func prevCol(lines []string, i int) int {
	for j := i - 1; j >= 0; j-- {
		if t := strings.TrimLeft(lines[j], " "); t != "" && !strings.HasPrefix(t, "#") {
			return len(lines[j]) - len(t)
		}
	}
	return 0
}

// aliasLine is the line of data where *name is written as an alias of no anchor (0: not
// found). The same text in a comment, a quoted value or a block of text is no alias: the
// places *name is written are tried as aliases, the others made text, until the parser
// refuses one (before, the first place written after a blank was taken, and a comment
// above sent the operator to the wrong line). The parser refuses the alias having read
// little past it: the places at the end of what it read are tried first, and whether a
// place is refused does not depend on the others, so they are halved at each parse of
// what it read. Each place tried alone took a parse of the whole file: 64 for a
// file of 64 places, a minute and more near Load's 16 MiB.
func aliasLine(data []byte, name string) int {
	r := &countingReader{r: bytes.NewReader(data)}
	if !refusesAlias(yaml.NewDecoder(r).Decode(&yaml.Node{}), name) {
		return 0
	}
	head := data[:min(r.n, len(data))] // the alias refused is in it
	needle := []byte("*" + name)
	var at []int
	for i := 0; ; {
		j := bytes.Index(head[i:], needle)
		if j < 0 {
			break
		}
		at = append(at, i+j)
		i += j + 1
	}
	probe := bytes.Clone(head)
	// first is the first place of places refused alone, if any (-1): each parse has the
	// places of one half written as aliases, every other place made text.
	first := func(places []int) int {
		refused := func(on []int) bool {
			for _, o := range at {
				probe[o] = 'x'
			}
			for _, o := range on {
				probe[o] = '*'
			}
			return refusesAlias(yaml.Unmarshal(probe, &yaml.Node{}), name)
		}
		for len(places) > 1 {
			if mid := len(places) / 2; refused(places[:mid]) {
				places = places[:mid]
			} else {
				places = places[mid:]
			}
		}
		if len(places) == 1 && refused(places) {
			return places[0]
		}
		return -1
	}
	// The parser reads a token past the alias, and its buffer's 512 bytes: the places
	// in the last kilobyte it read, else in the last 16, else all of them.
	for _, window := range []int{1 << 10, 16 << 10, len(head)} {
		near := sort.SearchInts(at, len(head)-window)
		if o := first(at[near:]); o >= 0 {
			return bytes.Count(data[:o], []byte("\n")) + 1
		}
		if near == 0 {
			break
		}
	}
	return 0
}

func refusesAlias(err error, name string) bool {
	m := unknownAnchor.FindStringSubmatch(fmt.Sprint(err))
	return m != nil && m[1] == name
}

// countingReader counts the bytes read from r.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// nodeTree turns a YAML node into maps, lists and scalars with every key's case intact
// (resource names, JWT claims and header names are case-sensitive), and records the line
// of every path (lower-cased) in lines.
func nodeTree(n *yaml.Node, path string, lines map[string]int) (any, error) {
	w := &treeWalker{lines: lines, open: map[*yaml.Node]bool{}}
	return w.tree(n, path)
}

// treeWalker is nodeTree's state: the nodes expanded so far, and the aliases being
// expanded (an alias inside its own anchor is a cycle, refused).
type treeWalker struct {
	lines map[string]int
	nodes int
	bytes int // of the paths and scalars expanded so far (maxExpandedBytes)
	open  map[*yaml.Node]bool
}

func (w *treeWalker) tree(n *yaml.Node, path string) (any, error) {
	if w.nodes++; w.nodes > maxNodes {
		return nil, &syntaxError{n.Line, fmt.Sprintf("the document expands to more than %d values (aliases of aliases?)", maxNodes)}
	}
	if w.bytes += len(path) + len(n.Value); w.bytes > maxExpandedBytes {
		return nil, &syntaxError{n.Line, fmt.Sprintf("the document expands to more than %d MiB of keys and values (aliases of aliases?)", maxExpandedBytes>>20)}
	}
	lines := w.lines
	lines[strings.ToLower(path)] = n.Line
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil || w.open[n.Alias] {
			return nil, &syntaxError{n.Line, fmt.Sprintf("alias *%s refers to itself", n.Value)}
		}
		w.open[n.Alias] = true
		defer delete(w.open, n.Alias)
		return w.tree(n.Alias, path)
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		seen := map[string]int{} // the keys written here (not merged), as they match
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.SequenceNode || k.Kind == yaml.MappingNode {
				// `? [x]`: read as the key "", said as an unknown key "" at the section's
				// line, or at none and of no path at the top of the file.
				what := map[yaml.Kind]string{yaml.SequenceNode: "a list", yaml.MappingNode: "a section"}[k.Kind]
				return nil, &syntaxError{k.Line, strings.TrimPrefix(path+": a key must be a name, not "+what, ": ")}
			}
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				if err := w.merge(out, v, path); err != nil {
					return nil, err
				}
				continue
			}
			p := joinPath(path, k.Value)
			// A key written twice would drop one of its values without a word (a second
			// server: section, the first one's auth with it); keys match whatever their case.
			if first, dup := seen[strings.ToLower(k.Value)]; dup {
				// Up to its name: {password:VALUE, password:VALUE} is a value in a key.
				shown := joinPath(path, k.Value)
				if name, rest := keyName(k.Value); rest {
					shown = joinPath(path, name) + "…"
				}
				return nil, &syntaxError{k.Line, fmt.Sprintf("%s is set twice (first at line %d); keys match whatever their case", shown, first)}
			}
			seen[strings.ToLower(k.Value)] = k.Line
			val, err := w.tree(v, p)
			if err != nil {
				return nil, err
			}
			lines[strings.ToLower(p)] = k.Line
			for mk := range out { // a merged key in another case: the written one wins
				if strings.EqualFold(mk, k.Value) {
					delete(out, mk)
				}
			}
			out[k.Value] = val
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := w.tree(c, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	default:
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
			// No key is a time: 2024-01-01 written unquoted is that text, as a number is
			// (Numeral). Decoded, a string key refused it showing the time reformatted (a
			// password's), and an engine's section got a time JSON writes otherwise.
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			// "cannot decode !!str `VALUE` as a !!int": the value may be a secret under a
			// tag that does not fit it; the path says which it is.
			msg := quotedValue.ReplaceAllString(strings.TrimPrefix(err.Error(), "yaml: "), "the value")
			if path != "" {
				msg = path + ": " + msg
			}
			return nil, &syntaxError{n.Line, msg}
		}
		return numeral(n, v), nil
	}
}

// merge adds to out the keys of a merge key's value v (<<: *a, or <<: [*a, *b], the first
// listed winning) that out has in no case: keys written beside the merge win over it.
// Anything else under << is refused: it was dropped without a word, a list of sections
// with it, their settings left at their defaults.
func (w *treeWalker) merge(out map[string]any, v *yaml.Node, path string) error {
	merged, err := w.tree(v, path)
	if err != nil {
		return err
	}
	var sections []map[string]any
	switch m := merged.(type) {
	case map[string]any:
		sections = append(sections, m)
	case []any:
		sections = []map[string]any{}
		for _, e := range m {
			if sm, ok := e.(map[string]any); ok {
				sections = append(sections, sm)
				continue
			}
			sections = nil
			break
		}
	}
	if sections == nil {
		at := "<< (a merge)"
		if path != "" {
			at = path + ": " + at
		}
		what := describe(merged)
		if _, ok := merged.([]any); ok {
			what = "a list holding something else than sections"
		}
		return &syntaxError{v.Line, at + " takes an alias of a section (<<: *name) or a list of them, not " + what}
	}
	have := map[string]bool{}
	for k := range out {
		have[strings.ToLower(k)] = true
	}
	for _, m := range sections {
		for _, mk := range slices.Sorted(maps.Keys(m)) {
			if !have[strings.ToLower(mk)] {
				out[mk], have[strings.ToLower(mk)] = m[mk], true
			}
		}
	}
	return nil
}

// numeral is v, a scalar as YAML read it, or a Numeral keeping its text when v is a number
// that prints back otherwise (0012…, 0x…, 1_000, 1e10, more digits than an int holds).
func numeral(n *yaml.Node, v any) any {
	switch v.(type) {
	case int, int64, uint64, float64:
		if fmt.Sprint(v) != n.Value {
			return Numeral{Text: n.Value, Value: v}
		}
	}
	return v
}

// Numeral is a number written unquoted in a way it does not print back as (0012…, 0x1F,
// 1_000, 1e10, 12345678901234567890123). A string key gets its Text: a secret written
// unquoted that YAML reads as a number is the text written, not the number printed back.
// Every other reader gets Value, the number YAML read: a numeric key through Decode, JSON
// (MarshalJSON) for the remote engine's section.
type Numeral struct {
	Text  string
	Value any // int, int64, uint64 or float64
}

// String is the text as written (a webhookFile's {{placeholder}} filled from values).
func (n Numeral) String() string { return n.Text }

// MarshalJSON writes the number YAML read.
func (n Numeral) MarshalJSON() ([]byte, error) { return json.Marshal(n.Value) }

// envRef matches ${file:PATH} (m[1]: PATH) and ${NAME} or ${NAME:-default} (m[2], m[4]).
// A PATH never starts with '-', so ${file:-x} stays the variable "file" with a default.
var envRef = regexp.MustCompile(`\$\{(?:file:([^-}][^}]*)|([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?)\}`)

// expander replaces ${NAME} and ${NAME:-default} in every string value with the process
// environment's variable, and ${file:PATH} with the file's content (secretfile.go), read
// at every load: a reload (SIGHUP) reads a rotated file again, where the environment is
// fixed for the process's life. Only the braced form is expanded, so a literal '$' in a
// password needs no escaping; what a variable or a file holds is not expanded again.
type expander struct {
	lookup   func(string) (string, bool)
	opts     Options
	errs     Errors
	warnings []*FieldError
	unset    []string // paths whose value lacks an unset variable
	// from names the variables whose values a path's value holds (lower-cased path), so
	// that a problem with the value names what the operator sets, not only the file's line.
	from map[string][]string
}

func (x *expander) tree(node any, path string) any {
	switch n := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for _, k := range slices.Sorted(maps.Keys(n)) {
			out[k] = x.tree(n[k], joinPath(path, k))
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, val := range n {
			out[i] = x.tree(val, fmt.Sprintf("%s[%d]", path, i))
		}
		return out
	case string:
		if msg := refProblem(n); msg != "" {
			x.errs = append(x.errs, &FieldError{Path: canonicalPath(path), Msg: msg})
			return ""
		}
		return envRef.ReplaceAllStringFunc(n, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if m[1] != "" {
				return x.file(path, m[1])
			}
			if val, ok := x.lookup(m[2]); ok && val != "" {
				x.source(path, m[2])
				return val
			}
			if m[3] != "" {
				return m[4]
			}
			x.missing(path, fmt.Sprintf("environment variable %s is not set%s", m[2], x.meant(m[2])))
			return ""
		})
	default:
		return node
	}
}

// meant is " (did you mean NAME, which is set?)" for a variable of the environment
// that is set and a typo away from name (${EMFA_ENCRYPTON_KEY}), or "": the operator
// who exported it otherwise looks for the fault in the shell, not in the file.
func (x *expander) meant(name string) string {
	var set []string
	for _, kv := range x.opts.environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && v != "" && k != name {
			set = append(set, k)
		}
	}
	if near := suggest.Nearest(name, set); near != "" {
		return " (did you mean " + near + ", which is set?)"
	}
	return ""
}

// refProblem says what is wrong with the ${…} of s that would not be expanded, or "": a
// "${" that starts no reference (a brace or a name missing, ${NAME-x}), or a reference
// inside a default or a file's path, where it is text (${A:-${B}} read as the default
// "${B" and a "}" after the reference). Either was taken as text without a word, a
// password Verify never sends. A value must hold "${" as text from a variable or a file,
// whose content is not expanded. It names neither the value nor a variable's content.
func refProblem(s string) string {
	rest := 0
	for _, m := range envRef.FindAllStringSubmatchIndex(s, -1) {
		if strings.Contains(s[rest:m[0]], "${") {
			break
		}
		for _, g := range [][2]int{{m[2], m[3]}, {m[8], m[9]}} { // a file's path, a default
			if g[0] >= 0 && strings.Contains(s[g[0]:g[1]], "${") {
				return "a default or a file's path holds another ${…}, which is text there, not expanded: " +
					"set the variable itself, or write the default as text"
			}
		}
		rest = m[1]
	}
	if strings.Contains(s[rest:], "${") {
		return `holds a "${" that starts no reference (${NAME}, ${NAME:-default} or ${file:PATH}): a brace or a name missing? ` +
			`(a value that must hold "${" as text can come from a variable or a file the file names, ${NAME} or ${file:PATH}, ` +
			`whose content is not expanded)`
	}
	return ""
}

// file is the content of the file at name for the value at path, or "" with the problem
// recorded: a file that is not there (or not readable by this user) as an unset variable
// is, any other problem as an error.
func (x *expander) file(path, name string) string {
	f := readSecretFile(name)
	switch {
	case f.missing:
		x.missing(path, f.err)
		return ""
	case f.err != "":
		x.errs = append(x.errs, &FieldError{Path: canonicalPath(path), Msg: f.err})
		return ""
	}
	x.source(path, "file:"+name)
	if f.warn != "" {
		x.warnings = append(x.warnings, &FieldError{Path: canonicalPath(path), Msg: f.warn})
	}
	return f.value
}

// source records that the value at path holds ref's (NAME, or file:PATH), so that a
// problem with the value names what the operator sets, not only the file's line.
func (x *expander) source(path, ref string) {
	if x.from == nil {
		x.from = map[string][]string{}
	}
	p := strings.ToLower(path)
	if !slices.Contains(x.from[p], ref) {
		x.from[p] = append(x.from[p], ref)
	}
}

// missing records a value whose variable is unset (or whose file is not there): an error,
// or with UnsetIsWarning a warning unless the value is in a section the command needs.
func (x *expander) missing(path, msg string) {
	at := canonicalPath(path)
	if x.opts.Unset == UnsetIsWarning && !x.needed(at) {
		x.warnings = append(x.warnings, &FieldError{Path: at, Msg: msg})
		x.unset = append(x.unset, at)
	} else {
		x.errs = append(x.errs, &FieldError{Path: at, Msg: msg})
	}
}

func (x *expander) needed(path string) bool {
	for _, n := range x.opts.Need {
		if under(path, n) {
			return true
		}
	}
	return false
}

// reported reports whether errs has a problem at, above or below path already. An unknown
// key is the problem only of the key it was meant for ("pasword": the password left
// empty), not of its whole section: before, a typo under server hid every other problem
// of server, and an operator mended one a run.
func reported(errs Errors, path string) bool {
	for _, e := range errs {
		fe, ok := e.(*FieldError)
		switch {
		case !ok:
		case fe.Key != "": // a misspelt top-level key (storag) too: its Path is ""
			if fe.Meant != "" && under(path, joinPath(fe.Path, fe.Meant)) {
				return true
			}
		case fe.Path == "":
		case under(path, fe.Path) || under(fe.Path, path):
			return true
		}
	}
	return false
}

// under reports whether path is at or below section.
func under(path, section string) bool {
	path, section = strings.ToLower(path), strings.ToLower(section)
	return path == section || strings.HasPrefix(path, section+".") || strings.HasPrefix(path, section+"[")
}

// drop removes the problems that only restate an unset variable already warned about
// (an empty password, a key that does not decode): with UnsetIsWarning the rest of the
// configuration is checked as if the variables were set.
func (c *Config) drop(errs Errors) Errors {
	if len(c.unset) == 0 {
		return errs
	}
	var out Errors
	for _, e := range errs {
		if fe, ok := e.(*FieldError); ok && c.Forgives(fe) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// Forgives reports whether fe only restates an unset variable already warned about: it
// is about the value that lacks its variable, or about something inside that value (a
// list or a section expected there). A problem about the section holding the value (an
// unknown key beside it, a typo) is the file's own, and is never forgiven.
func (c *Config) Forgives(fe *FieldError) bool {
	if fe.Key != "" {
		return false
	}
	for _, u := range c.unset {
		if under(fe.Path, u) || fe.follows != "" && under(fe.follows, u) {
			return true
		}
	}
	return false
}

// Unset reports whether path, or something under it, took its value from an unset
// variable (loaded with UnsetIsWarning): what is built from it cannot be built here (a
// sender without its token). Which problems the missing secret explains is Forgives'.
func (c *Config) Unset(path string) bool {
	for _, u := range c.unset {
		if under(u, path) || under(path, u) {
			return true
		}
	}
	return false
}

// Annotate completes err's problems with where they are: the file (Source) and, where
// the YAML has it, the line of the path (or of its nearest ancestor). Problems that only
// restate an unset variable already warned about are dropped. Engines' checks go through
// it too, so every problem of a file reads the same. The result is sorted by line.
func (c *Config) Annotate(err error) error {
	if err == nil {
		return nil
	}
	var errs Errors
	if es, ok := err.(Errors); ok {
		errs = es
	} else {
		errs = Errors{err}
	}
	errs = c.drop(errs)
	if len(errs) == 0 {
		return nil
	}
	out := make(Errors, len(errs))
	for i, e := range errs {
		fe, ok := e.(*FieldError)
		if !ok {
			if c.Source != "" {
				e = fmt.Errorf("%s: %w", c.Source, e)
			}
			out[i] = e
			continue
		}
		cp := *fe
		switch {
		case cp.File == "" && cp.Line == 0:
			c.locate(&cp)
		case cp.File == "":
			cp.File = c.Source
		case cp.Line == 0:
			cp.Line = c.Line(joinPath(cp.Path, cp.Key))
		}
		out[i] = &cp
	}
	sort.SliceStable(out, func(i, j int) bool { return lineOf(out[i]) < lineOf(out[j]) })
	return out
}

// locate sets where fe's problem is: the EMFA_* variable that set its value, or else the
// file and the line of its path (or of its nearest ancestor).
func (c *Config) locate(fe *FieldError) {
	if fe.Key == "" {
		for _, o := range c.overrides {
			if under(fe.Path, strings.Join(o.path, ".")) {
				fe.File, fe.Line = o.env, 0
				return
			}
		}
	}
	fe.File, fe.Line = c.Source, c.Line(joinPath(fe.Path, fe.Key))
	if fe.Key == "" {
		fe.Vars = c.from[strings.ToLower(fe.Path)]
	}
}

func lineOf(e error) int {
	if fe, ok := e.(*FieldError); ok && fe.Line > 0 {
		return fe.Line
	}
	return 1 << 30
}

// Line is the line of path in the file, or of its nearest ancestor that has one; 0 when
// none does (an EMFA_* override, a default).
func (c *Config) Line(path string) int {
	p := strings.ToLower(path)
	if p == "" { // the document, or a key "" at its top
		return c.lines[""]
	}
	for p != "" {
		if l, ok := c.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

// envKey is one scalar configuration key that an EMFA_* variable can override.
type envKey struct {
	env  string   // EMFA_STORAGE_ENCRYPTIONKEY
	path []string // the keys as documented: storage, encryptionKey
}

// envKeys walks the Config struct: server.listen is EMFA_SERVER_LISTEN,
// storage.encryptionKey is EMFA_STORAGE_ENCRYPTIONKEY. Lists (providers) are not
// overridable from the environment; use ${NAME} inside them.
func envKeys() []envKey {
	var out []envKey
	var walk func(t reflect.Type, env string, path []string)
	walk = func(t reflect.Type, env string, path []string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for _, f := range configFields(t) {
			ft := f.typ
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			fEnv := env + "_" + strings.ToUpper(f.name)
			fPath := append(slices.Clone(path), f.name)
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
				walk(ft, fEnv, fPath)
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
			default:
				out = append(out, envKey{env: fEnv, path: fPath})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "EMFA", nil)
	sort.Slice(out, func(i, j int) bool { return out[i].env < out[j].env })
	return out
}

// applyEnvOverrides sets every key whose EMFA_* variable is set, replacing the key in
// whatever case the file wrote it, and returns those variables.
func applyEnvOverrides(settings map[string]any, lookup func(string) (string, bool)) []envKey {
	var set []envKey
	for _, k := range envKeys() {
		val, ok := lookup(k.env)
		if !ok {
			continue
		}
		if node := section(settings, k.path[:len(k.path)-1], val != ""); node != nil {
			set = append(set, k)
			node[keyIn(node, k.path[len(k.path)-1])] = val
		}
	}
	return set
}

// section is the section at path in settings, made where the file has none (or an empty
// key) when create is true; nil where the file wrote something else there (admin: false,
// meant as admin.enabled): that is refused at its line, not replaced without a word by a
// section holding the variable alone (an admin API believed off, served on the
// variable's listener). An empty variable (a manifest's value: "") makes no section:
// an empty EMFA_SERVER_AUTH_OAUTH_SIGNINGKEY turned OAuth and its token endpoint on.
func section(settings map[string]any, path []string, create bool) map[string]any {
	node := settings
	for _, key := range path {
		name := keyIn(node, key)
		switch sub := node[name].(type) {
		case map[string]any:
			node = sub
		case nil:
			if !create {
				return nil
			}
			node[name] = map[string]any{}
			node = node[name].(map[string]any)
		default:
			return nil
		}
	}
	return node
}

// keyIn is the spelling node uses for key (matched case-insensitively), or key itself.
func keyIn(node map[string]any, key string) string {
	for k := range node {
		if strings.EqualFold(k, key) {
			return k
		}
	}
	return key
}

// misspeltOverrides warns of each EMFA_ variable of environ that overrides no key but is
// a typo away from one (EMFA_LOGLEVEL, EMFA_SERVER_REQUESTTIMOUT): a misspelt key in
// the file is an error, and such a variable was ignored without a word. Variables that
// are no override by design (EMFA_DATA_DIR, EMFA_VERIFY_PASSWORD: a command's own, or a
// ${NAME} of some file) are not close to one; those the document names are skipped.
func misspeltOverrides(environ []string, doc []byte) []string {
	var out []string
	overrides := EnvOverrides()
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(strings.ToUpper(name), "EMFA_") || slices.Contains(overrides, name) ||
			bytes.Contains(doc, []byte("${"+name)) {
			continue
		}
		if near := suggest.Nearest(name, overrides); near != "" {
			out = append(out, fmt.Sprintf("environment variable %s overrides no key (did you mean %s?): it is ignored", name, near))
		}
	}
	sort.Strings(out)
	return out
}

// EnvOverrides lists the EMFA_* variables that override configuration keys, sorted.
func EnvOverrides() []string {
	var out []string
	for _, k := range envKeys() {
		out = append(out, k.env)
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	if key == "" {
		return path
	}
	return path + "." + key
}

// canonicalPath restores the documented spelling of a path written in another case
// ("storage.encryptionkey" → "storage.encryptionKey") from the struct tags.
func canonicalPath(path string) string {
	t := reflect.TypeFor[Config]()
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, index, _ := strings.Cut(part, "[")
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
		tag, ft, found := taggedField(t, name)
		if !found {
			break
		}
		parts[i], t = tag, ft
		if index != "" {
			parts[i] += "[" + index
		}
	}
	return strings.Join(parts, ".")
}

// taggedField is struct t's key name in any case (configFields), looked for in the
// structs it squashes too: its documented spelling and type.
func taggedField(t reflect.Type, name string) (string, reflect.Type, bool) {
	for _, f := range configFields(t) {
		if strings.EqualFold(f.name, name) {
			return f.name, f.typ, true
		}
	}
	return "", nil, false
}
