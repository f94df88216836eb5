package config

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/internal/suggest"
)

// Decode reads raw, a configuration tree (maps, lists and scalars, as YAML gives them),
// into out, a pointer to a struct whose fields carry mapstructure tags, and returns one
// FieldError per problem, each at its path under at: an unknown key (with the nearest
// known one), a value of the wrong kind, a duration without a unit. Keys match their tags
// case-insensitively; a key absent from raw leaves its field as it was, so defaults set
// before decoding survive. Engines decode their own sections with it (builtin's factor
// types), so every section reports alike, and a Config's Annotate adds the YAML lines.
func Decode(raw any, out any, at string) Errors {
	var errs Errors
	if raw == nil {
		return nil
	}
	decodeValue(reflect.ValueOf(out).Elem(), raw, at, &errs)
	return errs
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	anyMapType   = reflect.TypeFor[map[string]any]()
)

func decodeValue(v reflect.Value, raw any, at string, errs *Errors) {
	fail := func(format string, args ...any) {
		*errs = append(*errs, &FieldError{Path: at, Msg: fmt.Sprintf(format, args...)})
	}
	if raw == nil {
		return // `key:` with nothing after it: as if absent
	}
	if n, ok := raw.(Numeral); ok {
		if v.Kind() == reflect.String {
			v.SetString(n.Text) // password: 0012345678901234567, as written
			return
		}
		if v.Type() != durationType { // parseDuration names it as written
			raw = n.Value
		}
	}
	if v.Type() == durationType {
		d, err := parseDuration(raw)
		if err != nil {
			fail("%v", err)
			return
		}
		v.SetInt(int64(d))
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		decodeValue(v.Elem(), raw, at, errs)
	case reflect.Struct:
		m, ok := raw.(map[string]any)
		if !ok {
			fail("must be a section of keys, not %s", describe(raw))
			return
		}
		decodeStruct(v, m, at, errs)
	case reflect.Map:
		m, ok := raw.(map[string]any)
		if !ok {
			fail("must be a section of keys, not %s", describe(raw))
			return
		}
		if v.Type() == anyMapType {
			refKeys(m, at, errs)
			v.Set(reflect.ValueOf(m)) // an engine's section: the engine decodes it
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			refKey(k, at, errs)
			elem := reflect.New(v.Type().Elem()).Elem()
			decodeValue(elem, m[k], joinPath(at, k), errs)
			v.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), elem)
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			fail("must be a list, not %s", describe(raw))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(list), len(list))
		for i, e := range list {
			decodeValue(out.Index(i), e, fmt.Sprintf("%s[%d]", at, i), errs)
		}
		v.Set(out)
	case reflect.String:
		switch x := raw.(type) {
		case string:
			v.SetString(x)
		case int, int64, uint64, float64, bool:
			v.SetString(fmt.Sprint(x)) // password: 12345
		default:
			fail("must be a string, not %s", describe(raw))
		}
	case reflect.Bool:
		switch x := raw.(type) {
		case bool:
			v.SetBool(x)
		case string: // from an EMFA_* variable
			b, err := strconv.ParseBool(x)
			if err != nil {
				fail("must be true or false, not %q", x)
				return
			}
			v.SetBool(b)
		default:
			fail("must be true or false, not %s", describeScalar(raw))
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := asInt(raw)
		if !ok {
			fail("must be a whole number, not %s", describeScalar(raw))
			return
		}
		v.SetInt(n)
	case reflect.Float64:
		var f float64
		switch x := raw.(type) {
		case float64:
			f = x
		case int:
			f = float64(x)
		case string: // from an EMFA_* variable
			var err error
			if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
				fail("must be a number, not %s", describeScalar(raw))
				return
			}
		default:
			fail("must be a number, not %s", describeScalar(raw))
			return
		}
		// NaN passes every range check (each comparison is false) and then means what
		// its reader's conversion makes of it: a sampler kept every trace or none.
		if math.IsNaN(f) || math.IsInf(f, 0) {
			fail("must be a finite number, not %s", describeScalar(raw))
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		v.Set(reflect.ValueOf(raw))
	default:
		fail("cannot be configured (%s)", v.Type())
	}
}

// decodeStruct sets the fields named by m's keys, reporting each key no field has.
func decodeStruct(v reflect.Value, m map[string]any, at string, errs *Errors) {
	fields := structFields(v)
	for _, k := range slices.Sorted(maps.Keys(m)) {
		f, ok := fields[strings.ToLower(k)]
		if !ok {
			name, _ := keyName(k)
			shown, ref, rest := shownKey(k)
			hint := ""
			if ref {
				hint = ": a key is not expanded (${…} is, in values)"
			} else if rest {
				hint = ": a value written after the key without a space after the colon is read as part of the key (the rest is not shown)"
			}
			msg := fmt.Sprintf("unknown key %q", shown)
			near := suggest.Nearest(name, documented(fields))
			if near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			msg += hint
			*errs = append(*errs, &FieldError{Path: at, Key: k, Meant: near, Msg: msg})
			continue
		}
		decodeValue(f.value, m[k], joinPath(at, f.name), errs)
	}
}

// shownKey is key k as a problem may show it: up to its name (keyName), and a ${NAME}
// right after the name (a key is not expanded, ref), "…" where more follows (rest).
func shownKey(k string) (shown string, ref, rest bool) {
	name, rest := keyName(k)
	if r := envRef.FindString(k[len(name):]); r != "" && strings.HasPrefix(k[len(name):], r) {
		shown, ref = name+r, true
		rest = len(shown) < len(k)
	} else {
		shown = name
	}
	if rest {
		shown += "…"
	}
	return shown, ref, rest
}

// refKeys reports each key of m, an engine's section, and of the sections and lists in
// it, that holds a ${…}: a key is not expanded, and its name would be taken as written.
func refKeys(raw any, at string, errs *Errors) {
	switch x := raw.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			refKey(k, at, errs)
			refKeys(x[k], joinPath(at, k), errs)
		}
	case []any:
		for i, e := range x {
			refKeys(e, fmt.Sprintf("%s[%d]", at, i), errs)
		}
	}
}

// refKey reports k, a key of the section at where any name is taken (a sender, a
// capability, an engine's key), when it holds a ${…}: it stayed the text "${NAME}"
// without a word, a sender no one named or a header sent under that name.
func refKey(k, at string, errs *Errors) {
	if !strings.Contains(k, "${") {
		return
	}
	shown, _, _ := shownKey(k)
	if !strings.Contains(shown, "${") {
		shown = strings.TrimSuffix(shown, "…") + "${…"
	}
	*errs = append(*errs, &FieldError{Path: at, Key: k, Msg: fmt.Sprintf(
		"key %q is not expanded (${…} is, in values): a name here is taken as written", shown)})
}

// keyName is an unknown key's leading name (letters, digits, '_', '-', '.'), and whether
// more follows it: in a flow section {password:VALUE} or password=VALUE is one key, a
// value in it, which an error must not show.
func keyName(k string) (string, bool) {
	i := strings.IndexFunc(k, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.')
	})
	if i < 0 {
		return k, false
	}
	return k[:i], true
}

type field struct {
	name  string // as documented: the tag
	value reflect.Value
}

// documented are fields' documented names, sorted: of equally close suggestions the first.
func documented(fields map[string]field) []string {
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.name)
	}
	slices.Sort(names)
	return names
}

// structFields are v's configurable fields by lower-cased key; ",squash" embeds a
// struct's fields at its own level.
func structFields(v reflect.Value) map[string]field {
	out := map[string]field{}
	for _, f := range configFields(v.Type()) {
		out[strings.ToLower(f.name)] = field{name: f.name, value: v.FieldByIndex(f.index)}
	}
	return out
}

// configField is one key of a configuration struct: its name as documented (its
// mapstructure tag, else its Go name), where it is, through the structs squashed into
// its own (reflect's index), and its type.
type configField struct {
	name  string
	index []int
	typ   reflect.Type
}

// configFields are struct t's keys, those of the structs it squashes at its own level:
// a struct tagged ",squash", or embedded without a tag (an embedded struct of an
// unexported type still has exported fields). Decode reads these, the EMFA_* variables
// (envKeys) and the documented spelling of a path (canonicalPath) are these: one rule.
func configFields(t reflect.Type) []configField {
	var out []configField
	for i := range t.NumField() {
		sf := t.Field(i)
		name, opts, _ := strings.Cut(sf.Tag.Get("mapstructure"), ",")
		switch {
		case name == "-":
		case (opts == "squash" || sf.Anonymous && name == "") && sf.Type.Kind() == reflect.Struct:
			for _, f := range configFields(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
		case sf.IsExported():
			out = append(out, configField{name: cmpOr(name, sf.Name), index: []int{i}, typ: sf.Type})
		}
	}
	return out
}

// parseDuration reads a duration that carries its unit: "10s", "1h30m"; a bare 0 is
// zero. A bare number is refused, since 10 would be ten nanoseconds.
func parseDuration(raw any) (time.Duration, error) {
	switch x := raw.(type) {
	case time.Duration: // a section built in Go (tests, defaults)
		return x, nil
	case Numeral: // 1e9, 0x10, 1_000, 00
		if f, ok := x.Value.(float64); (ok && f == 0) || fmt.Sprint(x.Value) == "0" {
			return 0, nil
		}
		return 0, noUnit(x.Text)
	case string:
		s := strings.TrimSpace(x)
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			if n == 0 {
				return 0, nil
			}
			return 0, noUnit(s)
		}
		d, err := time.ParseDuration(s)
		if err != nil && durationSyntax.MatchString(s) {
			return 0, fmt.Errorf("out of range: at most 2562047h, not %q", x)
		}
		if err != nil {
			return 0, fmt.Errorf("must be a duration such as 30s, 5m or 1h30m, not %q", x)
		}
		return d, nil
	case int, int64, uint64, float64:
		if n, _ := asInt(x); n == 0 && fmt.Sprint(x) == "0" {
			return 0, nil
		}
		return 0, noUnit(fmt.Sprint(x))
	}
	return 0, fmt.Errorf("must be a duration such as 30s, 5m or 1h30m, not %s", describeScalar(raw))
}

var (
	// durationSyntax is what time.ParseDuration reads: what it refuses so written is
	// past the largest duration.
	durationSyntax = regexp.MustCompile(`^[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$`)
	plainDecimal   = regexp.MustCompile(`^[-+]?(\d+\.?\d*|\.\d+)$`)
)

// noUnit refuses a number written as a duration, suggesting the number in seconds when
// that parses (not 1e9s, 0x10s or 1_000s).
func noUnit(text string) error {
	if plainDecimal.MatchString(text) {
		return fmt.Errorf("%s has no unit: write %ss (or ms, m, h)", text, text)
	}
	return fmt.Errorf("%s has no unit: write a duration such as 30s, 5m or 1h30m", text)
}

func asInt(raw any) (int64, bool) {
	switch x := raw.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case string: // from an EMFA_* variable
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// describe names a value's kind for an error, never a string's value: where a section, a
// list or a string was expected, a string found may be a secret put in the wrong place
// (a ${KEY} written where a list of keys goes).
func describe(raw any) string {
	switch raw.(type) {
	case map[string]any:
		return "a section"
	case []any:
		return "a list"
	case string:
		return "a string"
	case nil:
		return "nothing"
	}
	return fmt.Sprint(raw)
}

// describeScalar is describe quoting a string, for where a number, a boolean or a duration
// was expected: its value helps, and no secret goes there.
func describeScalar(raw any) string {
	if x, ok := raw.(string); ok {
		return strconv.Quote(x)
	}
	return describe(raw)
}
