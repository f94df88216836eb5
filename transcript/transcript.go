// Package transcript is emfa's recorded MFA transactions: a YAML format for a whole
// scenario (the configuration it runs against, a fixed clock, setup, and the Verify calls
// with the answers expected — and, for remote providers, the vendor exchanges each call
// causes), the matchers that compare answers, and a runner that replays a transcript
// against an emfa over HTTP while serving the vendor side itself.
//
// The runner knows emfa only through HTTP and the small Env interface, so the same
// transcript replays against an in-process emfa (which can move its clock and create
// users) or a running one.
package transcript

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Transcript is one scenario.
type Transcript struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Clock is where the fake clock starts (default DefaultClock).
	Clock time.Time `yaml:"clock,omitempty"`
	// Config is the emfa configuration, inline; ConfigFile names one instead (relative to
	// the transcript). Replay replaces its listener and storage, and points every remote
	// provider at the transcript's vendor (${vendor} also names it).
	Config     string `yaml:"config,omitempty"`
	ConfigFile string `yaml:"configFile,omitempty"`
	// Env holds values for ${NAME} references of the configuration.
	Env   map[string]string `yaml:"env,omitempty"`
	Setup []Setup           `yaml:"setup,omitempty"`
	Steps []Step            `yaml:"steps"`

	path string
	// configLine is the line of the config value in the file: with a literal block
	// (config: |) the configuration's line n is the file's configLine+n.
	configLine    int
	configLiteral bool
}

// DefaultClock is where a transcript's clock starts unless it says otherwise.
var DefaultClock = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Path is the file the transcript was read from.
func (t *Transcript) Path() string { return t.path }

// Setup creates what the scenario needs before its first call.
type Setup struct {
	User   string      `yaml:"user,omitempty"`
	Factor *FactorSpec `yaml:"factor,omitempty"`
}

// FactorSpec is a factor to create. As names a variable that receives its id.
type FactorSpec struct {
	Type      string `yaml:"type"`
	User      string `yaml:"user"`
	ID        string `yaml:"id,omitempty"` // keep this id (a recorded session's)
	Name      string `yaml:"name,omitempty"`
	Secret    string `yaml:"secret,omitempty"` // Base32 seed (totp, hotp)
	Algorithm string `yaml:"algorithm,omitempty"`
	Digits    int    `yaml:"digits,omitempty"`
	Period    int    `yaml:"period,omitempty"`
	Counter   int64  `yaml:"counter,omitempty"`
	Phone     string `yaml:"phone,omitempty"`
	Email     string `yaml:"email,omitempty"`
	// Question and Answer are one pair, or lists of pairs; a recording writes each answer
	// <redacted>, and replay enrolls the stand-in ${answer()} gives.
	Question Strings `yaml:"question,omitempty"`
	Answer   Strings `yaml:"answer,omitempty"`
	// Params are the type's own setup fields that no key above names (a new type's), by
	// the names of its enrollment fields (builtin.FieldsOf), written beside the others
	// (code: <redacted>): recorded as the type records them, and enrolled again by
	// replay. A key the type does not have is refused when the transcript is read.
	Params map[string]Strings `yaml:",inline"`
	As     string             `yaml:"as,omitempty"`
	// Created is when a recorded factor was created: a recording writes its set-up
	// factors in that order, the order replay creates them and enrollments lists them.
	Created time.Time `yaml:"-"`
}

// Strings is one string, or a list of them.
type Strings []string

// UnmarshalYAML reads a scalar or a list.
func (s *Strings) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = Strings{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*s = list
	return nil
}

// MarshalYAML writes one string as a scalar.
func (s Strings) MarshalYAML() (any, error) {
	if len(s) == 1 {
		return s[0], nil
	}
	return []string(s), nil
}

// Step is one thing that happens: a Verify call (with its expected answer and vendor
// exchanges), a clock move, or a device action.
type Step struct {
	Name    string        `yaml:"name,omitempty"`
	Call    *Call         `yaml:"call,omitempty"`
	Expect  *Expect       `yaml:"expect,omitempty"`
	Vendor  []Exchange    `yaml:"vendor,omitempty"`
	Advance Duration      `yaml:"advance,omitempty"`
	Device  *DeviceAction `yaml:"device,omitempty"`
}

// Call is a request as Verify sends it.
type Call struct {
	Provider string `yaml:"provider,omitempty"` // credentialPrefix; default: the only provider
	Resource string `yaml:"resource"`           // enrollments, initiate, validate, result, test
	Method   string `yaml:"method,omitempty"`   // default POST
	// Auth is "none" to send no credentials, or "wrong" to send wrong ones; default the
	// configured ones.
	Auth    string            `yaml:"auth,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	// Query is sent as the URL's query string (a GET result's transactionId, capability,
	// id and username): one value as a string, several as a list.
	Query map[string]any `yaml:"query,omitempty"`
	Body  any            `yaml:"body,omitempty"` // sent as JSON
	Raw   *string        `yaml:"raw,omitempty"`  // sent as-is (bad JSON)
}

// Expect is the answer expected.
type Expect struct {
	Status  int               `yaml:"status,omitempty"` // default 200
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    any               `yaml:"body,omitempty"`
}

// Exchange is one vendor call: what emfa must send, and what the vendor answers.
type Exchange struct {
	Request  VendorRequest  `yaml:"request"`
	Response VendorResponse `yaml:"response"`
}

// VendorRequest is matched against what emfa sends. Query, Form and Body are compared
// whole; Headers only for the names listed.
type VendorRequest struct {
	Method  string            `yaml:"method,omitempty"`
	Path    string            `yaml:"path,omitempty"`
	Query   map[string]any    `yaml:"query,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty"`
	Form    map[string]any    `yaml:"form,omitempty"`
	Body    any               `yaml:"body,omitempty"`
}

// VendorResponse is served to emfa.
type VendorResponse struct {
	Status  int               `yaml:"status,omitempty"` // default 200
	Headers map[string]string `yaml:"headers,omitempty"`
	Body    any               `yaml:"body,omitempty"` // JSON
	Raw     *string           `yaml:"raw,omitempty"`  // as-is
}

// DeviceAction answers a push challenge as the user's device would.
type DeviceAction struct {
	Action    string `yaml:"action"` // approve, deny, cancel
	User      string `yaml:"user,omitempty"`
	Challenge string `yaml:"challenge"`
	Number    string `yaml:"number,omitempty"`
}

// Duration is a time.Duration written as "3m".
type Duration time.Duration

// UnmarshalYAML reads "3m30s".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes "3m30s".
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// IsZero lets omitempty leave out a zero duration.
func (d Duration) IsZero() bool { return d == 0 }

// Load reads a transcript. Unknown keys are errors: a typo must not silently weaken a test.
// A problem of the file's text is a *ParseError naming the file and each problem's line.
func Load(path string) (*Transcript, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			pe.File = path
			return nil, pe
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.path = path
	return t, nil
}

// maxFileBytes bounds a transcript file, and a configuration file it names: far above
// any recorded session (a var for a test).
var maxFileBytes int64 = 64 << 20

// readFile is the file at path, up to maxFileBytes: a larger one (or a path that never
// ends, /dev/zero or a FIFO) is refused, not read into memory whole.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > maxFileBytes {
		return nil, fmt.Errorf("%s: larger than %d KiB, which no transcript or configuration is", path, maxFileBytes>>10)
	}
	return data, nil
}

// Parse reads a transcript from YAML. Its error is a *ParseError with every problem found.
func Parse(data []byte) (*Transcript, error) {
	root, perr := parseNode(data)
	if perr != nil {
		return nil, perr
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Problems: []Problem{{Line: root.Line, Msg: "a transcript is keys (name, config, steps…), not " + got(root)}}}
	}
	c := &checker{lines: map[string]int{}}
	c.check(root, reflect.TypeFor[Transcript](), "")
	if len(c.problems) > 0 {
		return nil, &ParseError{Problems: c.problems}
	}
	// What the walk does not follow (an alias) is the decoder's to refuse.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var t Transcript
	if err := dec.Decode(&t); err != nil {
		return nil, decodeProblems(err)
	}
	if problems := t.validate(c.lines); len(problems) > 0 {
		return nil, &ParseError{Problems: problems}
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if v := root.Content[i+1]; root.Content[i].Value == "config" {
			t.configLine, t.configLiteral = v.Line, v.Style&yaml.LiteralStyle != 0
		}
	}
	if t.Clock.IsZero() {
		t.Clock = DefaultClock
	}
	return &t, nil
}

// decoderLine is one of the YAML decoder's problems: "line 2: mapping key "name"
// already defined at line 1".
var decoderLine = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeProblems is the decoder's error as problems, each at its line where it names
// one (a key written twice).
func decodeProblems(err error) *ParseError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &ParseError{Problems: []Problem{{Msg: strings.TrimPrefix(err.Error(), "yaml: ")}}}
	}
	pe := &ParseError{}
	for _, e := range te.Errors {
		p := Problem{Msg: e}
		if m := decoderLine.FindStringSubmatch(e); m != nil {
			p.Line, _ = strconv.Atoi(m[1])
			p.Msg = m[2]
		}
		pe.Problems = append(pe.Problems, p)
	}
	return pe
}

// validate is every problem of a transcript that decoded, each at the line of its path.
func (t *Transcript) validate(lines map[string]int) []Problem {
	var problems []Problem
	at := func(path, msg string) {
		problems = append(problems, Problem{Line: lines[path], Msg: msg})
	}
	if t.Name == "" {
		at("", "name is required")
	}
	if (t.Config == "") == (t.ConfigFile == "") {
		at("", "exactly one of config and configFile is required")
	}
	if len(t.Steps) == 0 {
		at("steps", "steps: at least one step is required")
	}
	for i, s := range t.Setup {
		if (s.User == "") == (s.Factor == nil) {
			at(fmt.Sprintf("setup[%d]", i), fmt.Sprintf("setup[%d]: exactly one of user and factor", i))
		}
	}
	for i, s := range t.Steps {
		step := fmt.Sprintf("steps[%d]", i)
		kinds := 0
		if s.Call != nil {
			kinds++
			if s.Call.Resource == "" {
				at(step+".call", step+".call.resource is required")
			}
			for _, k := range sortedKeys(s.Call.Query) {
				if !queryValue(s.Call.Query[k]) {
					at(step+".call.query."+k, fmt.Sprintf("%s.call.query.%s: want a string or a list of strings (a URL's query has no nesting)", step, k))
				}
			}
		}
		if s.Advance != 0 {
			kinds++
		}
		if s.Device != nil {
			kinds++
		}
		if kinds != 1 {
			at(step, step+": exactly one of call, advance, device")
		}
		if s.Call == nil && (s.Expect != nil || len(s.Vendor) > 0) {
			at(step, step+": expect and vendor go with a call")
		}
		// An HTTP status has three digits: replay's vendor cannot write another (net/http
		// refuses it), and emfa never answers one.
		status := func(path string, code int) {
			if code != 0 && (code < 100 || code > 599) {
				at(path, fmt.Sprintf("%s: want an HTTP status (100 to 599), got %d", path, code))
			}
		}
		if s.Expect != nil {
			status(step+".expect.status", s.Expect.Status)
		}
		for j, x := range s.Vendor {
			status(fmt.Sprintf("%s.vendor[%d].response.status", step, j), x.Response.Status)
		}
	}
	return problems
}

// queryValue reports whether v can be a call's query value: a scalar, or a list of them.
func queryValue(v any) bool {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	for _, e := range list {
		switch e.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// ConfigPosition is where line n of the configuration is: in the transcript file for an
// inline configuration written as a block (config: |), at the config key's line for one
// written otherwise, and in the configuration file for configFile.
func (t *Transcript) ConfigPosition(n int) (file string, line int) {
	if t.ConfigFile != "" {
		return t.configFilePath(), n
	}
	if t.configLiteral && n > 0 {
		return t.path, t.configLine + n
	}
	return t.path, t.configLine
}

func (t *Transcript) configFilePath() string {
	path := t.ConfigFile
	if !filepath.IsAbs(path) && t.path != "" {
		path = filepath.Join(filepath.Dir(t.path), path)
	}
	return path
}

// ConfigText is the configuration the transcript runs against.
func (t *Transcript) ConfigText() (string, error) {
	if t.Config != "" {
		return t.Config, nil
	}
	data, err := readFile(t.configFilePath())
	if err != nil {
		return "", fmt.Errorf("configFile: %w", err)
	}
	return string(data), nil
}

// ConfigDir is where relative paths in the configuration start: the transcript's folder
// for an inline configuration, the configuration file's otherwise.
func (t *Transcript) ConfigDir() string {
	dir := filepath.Dir(t.path)
	if t.ConfigFile != "" {
		path := t.ConfigFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		return filepath.Dir(path)
	}
	return dir
}

// Marshal writes a transcript as YAML (recording).
func Marshal(t *Transcript) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
