package adapter

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// TestAdminOpenAPIFactorTypes: the committed admin_openapi.json lists the factor types the
// engine registers, as the served document does (withFactorTypes): a type added to the
// registry, or removed, without the file is found here.
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
	for name, text := range map[string][]byte{"committed": adminOpenAPIFile, "served": adminOpenAPI} {
		if err := json.Unmarshal(text, &doc); err != nil {
			t.Fatal(err)
		}
		enum := doc.Components.Schemas["Enrollment"].Properties["type"].Enum
		if got := slices.Sorted(slices.Values(enum)); !slices.Equal(got, builtin.Types()) {
			t.Errorf("%s: Enrollment.type's enum is %v; the registry's types are %v", name, enum, builtin.Types())
		}
	}
}
