package remote

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// A section's values of the wrong kind, and its keys misspelt, are each said, beside the webhook read without
// them, nested ones too (authentication.type), and the caller's section, which is the
// configuration's, is left as it was. One under a resource's name is said and the rest
// read as JSON read it: JSON's path leaves the name out.
func TestLoadWebhookWrongKindsBesideWebhook(t *testing.T) {
	section := map[string]any{
		"urls":             []any{"https://vendor.example.com"},
		"maxResponseBytes": "1MB",
		"authentication":   map[string]any{"type": 5, "header": map[string]any{}},
		"maxConnsPerHost":  "many",
		"resources":        map[string]any{"initiate": map[string]any{"suffix": 7, "method": "PUT"}},
		"ejectAfter":       3,
		"ejectFr":          "5s",
	}
	before := map[string]any{"type": 5, "header": map[string]any{}}
	w, _, err := LoadWebhook(section, t.TempDir())
	var es config.Errors
	if !errors.As(err, &es) || w == nil {
		t.Fatalf("LoadWebhook = %v, %v; want the webhook and config.Errors", w, err)
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.(*config.FieldError).Path)
	}
	if want := []string{"authentication.type", "ejectFr", "maxConnsPerHost", "maxResponseBytes", "resources.suffix"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("problems at %q, want %q", paths, want)
	}
	if w.EjectAfter != 3 || len(w.URLs) != 1 || w.Resources["initiate"].Method != "PUT" {
		t.Errorf("webhook read without them = %+v; want ejectAfter, urls and initiate's method kept", w)
	}
	if !reflect.DeepEqual(section["authentication"], before) {
		t.Errorf("the caller's authentication section became %v", section["authentication"])
	}
}

// A key misspelt deeper than the section's own (JSON names it without its path) is said
// as before, without the webhook, and with what was found before it.
func TestLoadWebhookUnknownNestedKey(t *testing.T) {
	section := map[string]any{"maxResponseBytes": "1MB", "resources": map[string]any{"x": map[string]any{"sufix": "/m"}}}
	w, _, err := LoadWebhook(section, t.TempDir())
	if w != nil || err == nil || !strings.Contains(err.Error(), `unknown key "sufix"`) || !strings.Contains(err.Error(), "maxResponseBytes: must be a whole number") {
		t.Errorf("LoadWebhook = %v, %v; want no webhook, the unknown key and the value before it", w, err)
	}
	// One the section has at its top too is not blamed there.
	section = map[string]any{"timeout": "5s", "resources": map[string]any{"x": map[string]any{"timeout": "1s"}}}
	if w, _, err := LoadWebhook(section, t.TempDir()); w != nil || err == nil || err.Error() != `remote section: unknown key "timeout"` {
		t.Errorf("a resource's timeout: %v, %v; want the unknown key alone", w, err)
	}
}
