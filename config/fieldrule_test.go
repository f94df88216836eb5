package config

import (
	"reflect"
	"testing"
)

type s66Squashed struct {
	Alpha string `mapstructure:"alpha"`
}

type s66embedded struct {
	Beta string `mapstructure:"beta"`
}

type s66Section struct {
	s66Squashed `mapstructure:",squash"`
	s66embedded
	Gamma  string `mapstructure:"gamma"`
	Hidden string `mapstructure:"-"`
	delta  string //nolint:unused // unexported: no key
}

// TestOneFieldRule: Decode, the documented spelling of a path (canonicalPath,
// through taggedField) and the EMFA_* variables (envKeys) read a struct's keys by one
// rule, configFields: before, Decode took an embedded struct without a tag at its own
// level and the other two did not know it, so a problem of such a key was named in the
// case written, and no variable set it.
func TestOneFieldRule(t *testing.T) {
	var got s66Section
	if errs := Decode(map[string]any{"ALPHA": "a", "Beta": "b", "gamma": "g"}, &got, ""); len(errs) > 0 {
		t.Fatalf("Decode: %v", errs)
	}
	if got.Alpha != "a" || got.Beta != "b" || got.Gamma != "g" {
		t.Errorf("Decode: %+v", got)
	}
	if errs := Decode(map[string]any{"hidden": "h", "delta": "d"}, &got, ""); len(errs) != 2 {
		t.Errorf("Decode of a key tagged - and of an unexported field: %v, want both unknown", errs)
	}
	typ := reflect.TypeFor[s66Section]()
	for _, key := range []string{"ALPHA", "BETA", "Gamma"} {
		name, _, ok := taggedField(typ, key)
		if _, isField := structFields(reflect.New(typ).Elem())[name]; !ok || !isField {
			t.Errorf("taggedField(%s) = %q, %v: not a key Decode reads", key, name, ok)
		}
	}
	for _, key := range []string{"hidden", "delta", "s66embedded"} {
		if name, _, ok := taggedField(typ, key); ok {
			t.Errorf("taggedField(%s) = %q: not a key", key, name)
		}
	}
	var names []string
	for _, f := range configFields(typ) {
		names = append(names, f.name)
	}
	if !reflect.DeepEqual(names, []string{"alpha", "beta", "gamma"}) {
		t.Errorf("configFields = %v, want alpha, beta, gamma", names)
	}
}
