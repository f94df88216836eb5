package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/emfa/emfa/provider/builtin"
)

// Matchers a transcript may write in place of an expected value.
const (
	MatchAny     = "<any>"      // any value but null and ""
	MatchAbsent  = "<absent>"   // the field must not be there
	matchRegexp  = "<re:"       // <re:^[a-z]+$>: a string matching the expression
	matchCapture = "<capture:"  // <capture:tx>: any non-empty value, kept as ${tx}
	redacted     = "<redacted>" // what recording writes in place of a secret
)

// AnswerStandIn is the answer replay enrolls for a security question whose answer a
// recording redacted; ${answer()} gives it, where the recorded user answered right.
var AnswerStandIn = func() string {
	fields, _ := builtin.FieldsOf(builtin.TypeQuestion)
	for _, f := range fields {
		if f.Name == "answer" {
			return f.StandIn
		}
	}
	return ""
}()

// Mismatch is one difference between an expected and an actual value.
type Mismatch struct {
	Path      string
	Want, Got string
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: want %s, got %s", m.Path, m.Want, m.Got)
}

// scope holds a run's variables and reaches the environment for generated values.
type scope struct {
	vars map[string]string
	env  Env
}

var ref = regexp.MustCompile(`\$\{([^}]+)\}`)

// expand replaces ${name} and ${generator(args)} in s.
func (sc *scope) expand(s string) (string, error) {
	var firstErr error
	out := ref.ReplaceAllStringFunc(s, func(m string) string {
		v, err := sc.value(strings.TrimSpace(m[2 : len(m)-1]))
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return v
	})
	return out, firstErr
}

// ErrCredentialsRefused is a call made with the replay's credentials (no auth of its own)
// answered 401 where the transcript expected otherwise.
var ErrCredentialsRefused = errors.New("emfa refused the replay's credentials")

// ErrNotRunnable marks a problem of the transcript's own met while it runs: a ${…} it
// cannot expand (a seed left <redacted>, a variable never set, a bad argument). The
// transcript cannot run as written; emfa answered nothing wrong.
var ErrNotRunnable = errors.New("the transcript cannot run as written")

type notRunnable struct{ error }

func (e notRunnable) Is(target error) bool { return target == ErrNotRunnable }
func (e notRunnable) Unwrap() error        { return e.error }

// value is one ${...}: a variable, or totp(secret[, digits[, period[, algorithm]]]),
// hotp(secret, counter[, digits[, algorithm]]), sent(destination). Its error is
// ErrNotRunnable, but for what the environment says of a sent code (none was sent).
func (sc *scope) value(expr string) (v string, err error) {
	asked := false // the environment was asked: its answer is no problem of the transcript
	defer func() {
		if err != nil && !asked {
			err = notRunnable{err}
		}
	}()
	name, argText, call := strings.Cut(expr, "(")
	if !call {
		v, ok := sc.vars[expr]
		if !ok {
			return "", fmt.Errorf("${%s} is not set (captured or defined earlier)", expr)
		}
		return v, nil
	}
	argText = strings.TrimSuffix(strings.TrimSpace(argText), ")")
	var args []string
	for _, a := range strings.Split(argText, ",") {
		if a = strings.TrimSpace(a); a != "" {
			expanded, err := sc.expand(a)
			if err != nil {
				return "", err
			}
			args = append(args, expanded)
		}
	}
	arg := func(i int, def string) string {
		if i < len(args) {
			return args[i]
		}
		return def
	}
	switch name {
	case "totp", "hotp":
		if len(args) == 0 {
			return "", fmt.Errorf("${%s}: needs a secret", expr)
		}
		if args[0] == redacted {
			return "", fmt.Errorf("${%s}: the seed was redacted when recording: put the factor's Base32 seed here and in its setup", expr)
		}
		seed, err := builtin.DecodeSecret(args[0])
		if err != nil {
			return "", fmt.Errorf("${%s}: %w", expr, err)
		}
		digitsArg, algArg := 1, 3
		var counter uint64
		if name == "totp" {
			period, err := strconv.Atoi(arg(2, "30"))
			if err != nil || period <= 0 {
				return "", fmt.Errorf("${%s}: bad period", expr)
			}
			counter = uint64(builtin.TOTPStep(sc.env.Now().Unix(), period))
		} else {
			c, err := strconv.ParseUint(arg(1, ""), 10, 64)
			if err != nil {
				return "", fmt.Errorf("${%s}: bad counter", expr)
			}
			counter, digitsArg, algArg = c, 2, 3
		}
		digits, err := strconv.Atoi(arg(digitsArg, "6"))
		if err != nil || digits < 6 || digits > 8 { // builtin.HOTP divides by 10^digits
			return "", fmt.Errorf("${%s}: bad digits (want 6 to 8)", expr)
		}
		alg, err := builtin.ParseAlgorithm(arg(algArg, "SHA1"))
		if err != nil {
			return "", fmt.Errorf("${%s}: %w", expr, err)
		}
		return builtin.HOTP(alg, seed, counter, digits), nil
	case "sent":
		if len(args) != 1 {
			return "", fmt.Errorf("${%s}: needs a destination", expr)
		}
		asked = true
		code, err := sc.env.Sent(args[0])
		if err != nil {
			return "", fmt.Errorf("${%s}: %w", expr, err)
		}
		return code, nil
	case "answer":
		return AnswerStandIn, nil
	}
	return "", fmt.Errorf("${%s}: unknown generator %q (want totp, hotp, sent or answer)", expr, name)
}

// expandValue expands every string inside v (a YAML value), leaving matchers alone.
func (sc *scope) expandValue(v any) (any, error) {
	switch x := v.(type) {
	case string:
		if isMatcher(x) {
			return x, nil
		}
		return sc.expand(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ev, err := sc.expandValue(e)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			ev, err := sc.expandValue(e)
			if err != nil {
				return nil, err
			}
			out[i] = ev
		}
		return out, nil
	}
	return v, nil
}

func isMatcher(s string) bool {
	return s == MatchAny || s == MatchAbsent || strings.HasPrefix(s, matchRegexp) || strings.HasPrefix(s, matchCapture)
}

// match compares want (from YAML, expanded) with got (decoded JSON) and returns the
// first difference, recording captures in sc.vars as it goes.
func (sc *scope) match(path string, want, got any) *Mismatch {
	if s, ok := want.(string); ok && isMatcher(s) {
		return sc.matchSpecial(path, s, got)
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return &Mismatch{path, "an object", show(got)}
		}
		for _, k := range sortedKeys(w) {
			gv, present := g[k]
			if s, ok := w[k].(string); ok && s == MatchAbsent {
				if present {
					return &Mismatch{join(path, k), "no such field", show(gv)}
				}
				continue
			}
			if !present {
				return &Mismatch{join(path, k), show(w[k]), "nothing (field missing)"}
			}
			if m := sc.match(join(path, k), w[k], gv); m != nil {
				return m
			}
		}
		for _, k := range sortedKeys(g) {
			if _, expected := w[k]; !expected {
				return &Mismatch{join(path, k), "no such field", show(g[k])}
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok {
			return &Mismatch{path, "a list", show(got)}
		}
		if len(g) != len(w) {
			return &Mismatch{path, fmt.Sprintf("%d elements", len(w)), fmt.Sprintf("%d: %s", len(g), show(got))}
		}
		for i := range w {
			if m := sc.match(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); m != nil {
				return m
			}
		}
		return nil
	case nil:
		if got != nil {
			return &Mismatch{path, "null", show(got)}
		}
		return nil
	}
	if wi, ok := integer(want); ok {
		// Whole numbers compare exactly: as float64 two ids above 2^53 (a vendor's
		// numeric transaction id) would match though they differ.
		if gi, ok := integer(got); ok {
			if wi.Cmp(gi) == 0 {
				return nil
			}
			return &Mismatch{path, show(want), show(got)}
		}
	}
	if wn, ok := number(want); ok {
		if gn, ok := number(got); ok && (wn == gn || math.Abs(wn-gn) < 1e-9) {
			return nil
		}
		return &Mismatch{path, show(want), show(got)}
	}
	if fmt.Sprint(want) != fmt.Sprint(got) || fmt.Sprintf("%T", normalize(want)) != fmt.Sprintf("%T", normalize(got)) {
		return &Mismatch{path, show(want), show(got)}
	}
	return nil
}

func (sc *scope) matchSpecial(path, m string, got any) *Mismatch {
	empty := got == nil || got == ""
	switch {
	case m == MatchAny:
		if empty {
			return &Mismatch{path, "any value", show(got)}
		}
	case m == MatchAbsent:
		return &Mismatch{path, "no such field", show(got)}
	case strings.HasPrefix(m, matchRegexp):
		expr := strings.TrimSuffix(strings.TrimPrefix(m, matchRegexp), ">")
		re, err := regexp.Compile(expr)
		if err != nil {
			return &Mismatch{path, "a valid expression " + expr, err.Error()}
		}
		s, ok := got.(string)
		if !ok || !re.MatchString(s) {
			return &Mismatch{path, "a string matching " + expr, show(got)}
		}
	case strings.HasPrefix(m, matchCapture):
		name := strings.TrimSuffix(strings.TrimPrefix(m, matchCapture), ">")
		if empty {
			return &Mismatch{path, "a value to capture as ${" + name + "}", show(got)}
		}
		sc.vars[name] = fmt.Sprint(got)
	}
	return nil
}

// normalize makes YAML's and JSON's scalars comparable by type.
func normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, _ := x.Float64()
		return f
	case int:
		return float64(x)
	}
	return v
}

// integer is v as a whole number, exactly, when it is written as one (a YAML integer, a
// JSON number without a fraction or an exponent).
func integer(v any) (*big.Int, bool) {
	switch x := v.(type) {
	case int:
		return big.NewInt(int64(x)), true
	case int64:
		return big.NewInt(x), true
	case uint64:
		return new(big.Int).SetUint64(x), true
	case json.Number:
		if strings.ContainsAny(string(x), ".eE") {
			return nil, false
		}
		return new(big.Int).SetString(string(x), 10)
	}
	return nil, false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	// Unescaped: a form body reads a=1&b=2, not a=1\u0026b=2.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
