package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/transform"
)

var placeholderRE = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// LoadWebhook turns a provider's remote section into a Webhook. The section is either a
// webhook itself, or names a Verify webhook JSON with webhookFile (relative paths from
// baseDir) used verbatim: {{name}} placeholders in it, as in IBM's published samples, are
// filled from the section's values, and any other keys of the section (timeout, urls...)
// override the file's. source names where the webhook came from, for messages. A
// value of the section that does not read (a duration without its unit, a value of the
// wrong kind) is a problem (config.Errors) returned beside the webhook read without it,
// so that a check goes on to the rest.
func LoadWebhook(section map[string]any, baseDir string) (w *Webhook, source string, err error) {
	rest := maps.Clone(section)
	file, _ := rest["webhookFile"].(string)
	values, _ := rest["values"].(map[string]any)
	delete(rest, "webhookFile")
	delete(rest, "values")
	if _, ok := section["webhookFile"]; ok && file == "" {
		return nil, "", fmt.Errorf("webhookFile must be a path")
	}
	if values != nil && file == "" {
		return nil, "", fmt.Errorf("values fill the placeholders of a webhookFile; there is none")
	}
	w = &Webhook{}
	if file != "" {
		if !filepath.IsAbs(file) {
			file = filepath.Join(baseDir, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, file, fmt.Errorf("webhookFile: %w", err)
		}
		filled, err := fillPlaceholders(data, values)
		if err != nil {
			return nil, file, fmt.Errorf("webhookFile %s: %w", file, err)
		}
		if w, err = ParseWebhook(filled); err != nil {
			return nil, file, fmt.Errorf("webhookFile %s: %w", file, err)
		}
		source = file
	}
	// A value that does not read (a duration without its unit, a string where a number
	// goes) is said, and the section read without it: the rest is checked too (the other
	// keys, every transform), and the webhook comes back with the problems, for a check to
	// report them all at once.
	problems := checkDurations(rest)
	for _, e := range problems {
		delete(rest, e.(*config.FieldError).Path)
	}
	for len(rest) > 0 {
		// Through JSON, so the section decodes exactly as a webhook JSON would.
		data, err := json.Marshal(rest)
		if err != nil {
			return nil, source, fmt.Errorf("remote section: %w", err)
		}
		// The section is the operator's own YAML, not a Verify export: a key the webhook
		// does not have is a typo (timeot: 5s), refused as every other typo is.
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		err = dec.Decode(w)
		if err == nil {
			break
		}
		if key, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			// One of the section's own keys is said at its line, with the key meant, and
			// the section read again without it; one deeper (JSON names it without its
			// path) is said alone, as before.
			name, _ := strconv.Unquote(key)
			near := suggest.Nearest(name, webhookKeys())
			if name != "" && !strings.EqualFold(near, name) && deleteKey(rest, name) {
				msg := "unknown key"
				if near != "" {
					msg += fmt.Sprintf(" (did you mean %q?)", near)
				}
				problems = append(problems, &config.FieldError{Path: name, Msg: msg})
				continue
			}
			unknown := fmt.Errorf("remote section: unknown key %s", key)
			if problems != nil {
				return nil, source, append(problems, unknown)
			}
			return nil, source, unknown
		}
		// A value of the wrong kind, named by its key as the rest of the configuration
		// names it, and never quoted: it may be a secret in the wrong place. JSON read
		// on past it and says only the first: the section is read again without it for
		// the next, until none is left or its key is under a name or in a list (JSON's
		// path leaves those out), where w is what JSON read.
		var te *json.UnmarshalTypeError
		if !errors.As(err, &te) || te.Field == "" {
			return nil, source, fmt.Errorf("remote section: %w", err)
		}
		problems = append(problems, &config.FieldError{Path: te.Field, Msg: fmt.Sprintf("must be %s, not %s", kindOf(te.Type), jsonKind(te.Value))})
		if !deleteKey(rest, te.Field) {
			break
		}
	}
	if problems != nil {
		return w, source, problems
	}
	return w, source, nil
}

// webhookKeys are the keys of a webhook's top level, as its JSON writes them.
func webhookKeys() []string {
	t := reflect.TypeFor[Webhook]()
	keys := make([]string, 0, t.NumField())
	for f := range t.Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// deleteKey deletes the value at path (keys joined by dots, each matched in any case, as
// JSON matches them) from section, copying the sections on the way so that the caller's
// are left as they were; false when path is not there.
func deleteKey(section map[string]any, path string) bool {
	first, rest, nested := strings.Cut(path, ".")
	for key, v := range section {
		if !strings.EqualFold(key, first) {
			continue
		}
		if !nested {
			delete(section, key)
			return true
		}
		inner, ok := v.(map[string]any)
		if !ok {
			return false
		}
		inner = maps.Clone(inner)
		if !deleteKey(inner, rest) {
			return false
		}
		section[key] = inner
		return true
	}
	return false
}

// checkDurations refuses, by key, a duration of the section that does not read as one: a
// number without its unit, or a string that is no duration. JSON would say only
// `time: invalid duration "abc"`, without the key.
func checkDurations(section map[string]any) config.Errors {
	var errs config.Errors
	for _, key := range slices.Sorted(maps.Keys(section)) {
		if !strings.EqualFold(key, "timeout") && !strings.EqualFold(key, "ejectFor") {
			continue
		}
		switch v := section[key].(type) {
		case int, int64, uint64, float64:
			errs = append(errs, &config.FieldError{Path: key, Msg: fmt.Sprintf("%v has no unit: write %vs (or ms, m, h)", v, v)})
		case string:
			if _, err := time.ParseDuration(v); err != nil {
				errs = append(errs, &config.FieldError{Path: key, Msg: fmt.Sprintf("must be a duration such as 5s or 1m30s, not %q", v)})
			}
		}
	}
	return errs
}

// kindOf says what a value of type t is written as.
func kindOf(t reflect.Type) string {
	if t == reflect.TypeFor[Duration]() {
		return "a duration such as 5s or 1m30s"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a section"
}

// jsonKind is what encoding/json calls a value (UnmarshalTypeError.Value), said as the
// configuration's messages say it.
func jsonKind(v string) string {
	switch v {
	case "array":
		return "a list"
	case "object":
		return "a section"
	case "bool":
		return "true or false"
	case "number", "string":
		return "a " + v
	}
	if strings.HasPrefix(v, "number") {
		return "a number"
	}
	return v
}

// fillPlaceholders replaces {{name}} in a JSON document with values[name], escaped for a
// JSON string; a placeholder left without a value is an error naming every such name.
func fillPlaceholders(data []byte, values map[string]any) ([]byte, error) {
	var missing []string
	out := placeholderRE.ReplaceAllFunc(data, func(m []byte) []byte {
		name := string(placeholderRE.FindSubmatch(m)[1])
		v, ok := values[name]
		if !ok {
			if !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return m
		}
		quoted, _ := json.Marshal(fmt.Sprint(v))
		return quoted[1 : len(quoted)-1]
	})
	if len(missing) > 0 {
		return nil, fmt.Errorf("placeholders without a value in values: %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// EvalTransform evaluates one transform of w on vars, as the engine would (emfa transform
// eval; Verify's transform playground). Variables vars leaves out get the engine's values:
// header, method, path and host from the webhook and resource, authentication_header from
// its header authentication, now from the clock; for incoming, status_code 200 and
// request built the same way.
func EvalTransform(ctx context.Context, w *Webhook, resourceName string, dir transform.Direction, vars map[string]any, now time.Time) (map[string]any, error) {
	resources, err := Compile(w)
	if err != nil {
		return nil, err
	}
	r, ok := resources[strings.ToLower(resourceName)]
	if !ok {
		return nil, fmt.Errorf("no resource %q (have %s)", resourceName, strings.Join(slices.Sorted(maps.Keys(resources)), ", "))
	}
	prg := r.outgoing
	if dir == transform.Incoming {
		prg = r.incoming
	}
	if prg == nil {
		return nil, fmt.Errorf("resource %s has no %s transform", resourceName, dir)
	}
	if len(w.URLs) == 0 {
		return nil, fmt.Errorf("the webhook has no urls")
	}
	base, err := url.Parse(w.URLs[0])
	if err != nil {
		return nil, err
	}
	headers := http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}
	for _, h := range w.Headers {
		headers.Set(h.Key, h.Value)
	}
	authHeader := map[string]string{}
	for _, v := range w.Authentication.Header.Values {
		authHeader[v.Key] = v.Value.Reveal()
	}
	defaults := map[string]any{
		transform.VarHeader: map[string][]string(headers), transform.VarMethod: r.def.method(),
		// The path as the engine gives it (start): base URL + suffix, decoded.
		transform.VarPath: joinSuffix(base, r.def.Suffix).Path, transform.VarHost: strings.ToLower(base.Host),
		transform.VarAuthenticationHeader: authHeader, transform.VarNow: now,
	}
	if dir == transform.Incoming {
		request := map[string]any{"body": map[string]any{}}
		for _, k := range []string{transform.VarHeader, transform.VarMethod, transform.VarPath, transform.VarHost} {
			request[k] = defaults[k]
		}
		defaults = map[string]any{transform.VarStatusCode: int64(200), transform.VarHeader: map[string][]string{}, "request": request}
	}
	all := transform.Vars{}
	maps.Copy(all, defaults)
	for k, v := range vars {
		if k == transform.VarNow {
			if s, ok := v.(string); ok {
				t, err := time.Parse(time.RFC3339, s)
				if err != nil {
					return nil, fmt.Errorf("now: %w", err)
				}
				v = t
			}
		}
		all[k] = v
	}
	if _, ok := all[transform.VarBody]; !ok {
		return nil, fmt.Errorf("the input needs a body")
	}
	return prg.Eval(ctx, all)
}
