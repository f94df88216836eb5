package remote

import (
	"errors"
	"reflect"
	"testing"

	"github.com/emfa/emfa/config"
)

// A section's values of the wrong kind are each said, beside the webhook read without
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
	if want := []string{"authentication.type", "maxConnsPerHost", "maxResponseBytes", "resources.suffix"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("problems at %q, want %q", paths, want)
	}
	if w.EjectAfter != 3 || len(w.URLs) != 1 || w.Resources["initiate"].Method != "PUT" {
		t.Errorf("webhook read without them = %+v; want ejectAfter, urls and initiate's method kept", w)
	}
	if !reflect.DeepEqual(section["authentication"], before) {
		t.Errorf("the caller's authentication section became %v", section["authentication"])
	}
}
