package adapter

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// TestAdminOpenAPIFactorTypes: the committed admin_openapi.json lists the factor types the
// engine registers, and the activation modes they take, as the served document does
// (withFactorTypes): a type added to the registry, or removed, or one whose activation
// changed, without the file is found here.
func TestAdminOpenAPIFactorTypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum        []string `json:"enum"`
					Description string   `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	for name, text := range map[string][]byte{"committed": adminOpenAPIFile, "served": adminOpenAPI()} {
		if err := json.Unmarshal(text, &doc); err != nil {
			t.Fatal(err)
		}
		enum := doc.Components.Schemas["Enrollment"].Properties["type"].Enum
		if got := slices.Sorted(slices.Values(enum)); !slices.Equal(got, builtin.Types()) {
			t.Errorf("%s: Enrollment.type's enum is %v; the registry's types are %v", name, enum, builtin.Types())
		}
		// The activation each type takes, as the types say: the file is kept in step too.
		wantEnum, wantText := activationModes()
		got := doc.Components.Schemas["Enrollment"].Properties["activation"]
		if !slices.Equal(got.Enum, wantEnum) || got.Description != wantText {
			t.Errorf("%s: Enrollment.activation is %v %q; the types say %v %q", name, got.Enum, got.Description, wantEnum, wantText)
		}
	}
}
