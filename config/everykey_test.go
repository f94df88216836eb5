package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// leafKey is one scalar key of the typed configuration, found by walking Config's struct
// tags: its documented path and the field it sets.
type leafKey struct {
	path []string
	typ  reflect.Type
	get  func(*Config) reflect.Value
}

// leafKeys walks Config as an operator's file reaches it: through sections and pointers to
// sections, into squashed structs at their own level; lists and maps are not scalar keys.
func leafKeys() (out []leafKey, untagged []string) {
	var walk func(t reflect.Type, path []string, get func(*Config) reflect.Value)
	walk = func(t reflect.Type, path []string, get func(*Config) reflect.Value) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("mapstructure")
			if tag == "" && (sf.IsExported() || sf.Anonymous) {
				// Decode reads it (by its Go name, or its fields at this level) where
				// the EMFA_* variables and the documented paths do not reach it.
				untagged = append(untagged, strings.Join(append(slices.Clone(path), sf.Name), "."))
			}
			if tag == "" || tag == "-" {
				continue
			}
			idx := i
			fget := func(c *Config) reflect.Value {
				v := get(c)
				for v.Kind() == reflect.Pointer {
					if v.IsNil() {
						return reflect.Value{}
					}
					v = v.Elem()
				}
				if !v.IsValid() {
					return v
				}
				return v.Field(idx)
			}
			ft := sf.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if name, opts, _ := strings.Cut(tag, ","); name == "" && opts == "squash" {
				walk(ft, path, fget)
				continue
			}
			fpath := append(slices.Clone(path), tag)
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, fpath, fget)
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
			default:
				out = append(out, leafKey{path: fpath, typ: ft, get: fget})
			}
		}
	}
	walk(reflect.TypeFor[Config](), nil, func(c *Config) reflect.Value { return reflect.ValueOf(c).Elem() })
	return out, untagged
}

// sample is a value of t as YAML and an EMFA_* variable write it, and what it decodes to.
func sample(t *testing.T, typ reflect.Type) (text string, want any) {
	switch {
	case typ == durationType:
		return "7s", 7 * time.Second
	case typ.Kind() == reflect.String:
		return "v-sample-7", "v-sample-7"
	case typ.Kind() == reflect.Bool:
		return "true", true
	case typ.Kind() == reflect.Int || typ.Kind() == reflect.Int64:
		return "7", int64(7)
	case typ.Kind() == reflect.Float64:
		return "0.5", 0.5
	}
	t.Fatalf("no sample for %s", typ)
	return "", nil
}

func leafValue(v reflect.Value) any {
	for v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		return v.String()
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int64:
		if v.Type() == durationType {
			return time.Duration(v.Int())
		}
		return v.Int()
	case reflect.Float64:
		return v.Float()
	}
	return nil
}

// TestEveryKeyFromFileAndEnvironment: every scalar key of the typed
// configuration can be set from the file, under its documented path in any case, and
// from its EMFA_* variable, and either lands in its own field; EnvOverrides lists
// exactly those variables.
func TestEveryKeyFromFileAndEnvironment(t *testing.T) {
	keys, untagged := leafKeys()
	if len(keys) < 50 {
		t.Fatalf("walked only %d keys", len(keys))
	}
	if len(untagged) > 0 {
		t.Errorf("fields without a mapstructure tag (or \"-\"): %v", untagged)
	}
	var envs []string
	for _, k := range keys {
		name := "EMFA_" + strings.ToUpper(strings.Join(k.path, "_"))
		envs = append(envs, name)
		text, want := sample(t, k.typ)
		t.Run(strings.Join(k.path, "."), func(t *testing.T) {
			// The file: nested sections, the key written in lower case for the case-insensitive match.
			var doc strings.Builder
			for i, p := range k.path {
				fmt.Fprintf(&doc, "%s%s:", strings.Repeat("  ", i), p)
				if i < len(k.path)-1 {
					doc.WriteString("\n")
				}
			}
			if k.typ.Kind() == reflect.String && k.typ != durationType {
				fmt.Fprintf(&doc, " %q\n", text)
			} else {
				fmt.Fprintf(&doc, " %s\n", text) // as YAML reads a number, a boolean
			}
			for _, d := range []string{doc.String(), strings.ToLower(doc.String())} {
				cfg, _ := parse([]byte(d), Options{LookupEnv: func(string) (string, bool) { return "", false }})
				if cfg == nil {
					t.Fatalf("%s: not parsed", d)
				}
				if got := leafValue(k.get(cfg)); got != want {
					t.Errorf("from the file %q: got %v, want %v", d, got, want)
				}
			}
			cfg, _ := parse(nil, Options{LookupEnv: func(n string) (string, bool) {
				if n == name {
					return text, true
				}
				return "", false
			}})
			if got := leafValue(k.get(cfg)); got != want {
				t.Errorf("from %s: got %v, want %v", name, got, want)
			}
		})
	}
	slices.Sort(envs)
	if got := EnvOverrides(); !slices.Equal(got, envs) {
		t.Errorf("EnvOverrides:\n got %v\nwant %v", got, envs)
	}
}
