package remote

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/transform"
)

// enrollments reads a transform's answer as encoding/json decodes it into
// []provider.Enrollment, which the engine did before (through a JSON round trip).
func TestEnrollmentsDecodeAsJSON(t *testing.T) {
	t.Parallel()
	for _, answer := range []string{
		`[]`,
		`null`,
		`[{"id": "D1", "capability": "push", "attributes": {"n": 1, "deep": {"x": [1, "a"]}}}]`,
		`[{"ID": "D1", "Capability": "sms"}]`,
		`[{"id": null, "capability": "c", "attributes": null, "other": 7}]`,
		`[null, {"id": "D2", "capability": "hotp"}]`,
		`[{"id": 7, "capability": "c"}]`,
		`[{"id": "D1", "capability": "c", "attributes": "text"}]`,
		`["text"]`,
		`{"id": "D1"}`,
		`"text"`,
	} {
		t.Run(answer, func(t *testing.T) {
			t.Parallel()
			decoded, err := transform.DecodeJSON([]byte(answer))
			if err != nil {
				t.Fatal(err)
			}
			var want []provider.Enrollment
			wantErr := json.Unmarshal([]byte(answer), &want)
			for i := range want {
				for k, v := range want[i].Attributes {
					want[i].Attributes[k] = roundTrip(t, v)
				}
			}
			got, err := enrollments(transform.NewValue(decoded))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if err != nil {
				return
			}
			for i := range got {
				for k, v := range got[i].Attributes {
					got[i].Attributes[k] = roundTrip(t, v)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-json +direct):\n%s", diff)
			}
		})
	}
}

// roundTrip normalises numbers (JSON gives float64, the transform int64) for comparison.
func roundTrip(t *testing.T, v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Of two keys differing only in case, the field's own name wins (JSON would take the later
// one, but a CEL map has no order).
func TestEnrollmentsExactNameWins(t *testing.T) {
	t.Parallel()
	for range 20 { // map order varies
		got, err := enrollments(transform.NewValue([]any{map[string]any{"ID": "folded", "id": "exact", "Id": "f2", "capability": "c"}}))
		if err != nil || len(got) != 1 || got[0].ID != "exact" {
			t.Fatalf("got %+v, %v", got, err)
		}
	}
}

// A payload holding Go types JSON decoding does not produce reaches the transforms as its
// JSON form would: a float64 integral value is an int.
func TestPayloadValueThroughJSON(t *testing.T) {
	t.Parallel()
	for _, p := range []map[string]any{
		{"n": json.Number("3"), "s": "x", "m": map[string]any{"l": []any{true, nil}}},
		{"n": float64(3), "i": 4, "t": []string{"a"}},
	} {
		v, err := payloadValue(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Interface()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(p)
		want, _ := transform.DecodeJSON(data)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-json +direct):\n%s", diff)
		}
	}
}
