package transform

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		in      string
		want    any
		wantErr string
	}{
		{name: "integers stay int64", in: `{"a": 1, "b": -7, "c": 0}`,
			want: map[string]any{"a": int64(1), "b": int64(-7), "c": int64(0)}},
		{name: "fractions and exponents are float64", in: `[1.5, 1e3, 2E-1, 1.0]`,
			want: []any{1.5, 1000.0, 0.2, 1.0}},
		{name: "int64 limits", in: `[9223372036854775807, -9223372036854775808, 9223372036854775808]`,
			want: []any{int64(9223372036854775807), int64(-9223372036854775808), 9223372036854775808.0}},
		{name: "nesting", in: `{"a": [{"b": [1, {"c": null}]}], "d": {}}`,
			want: map[string]any{"a": []any{map[string]any{"b": []any{int64(1), map[string]any{"c": nil}}}}, "d": map[string]any{}}},
		{name: "scalars", in: `"text"`, want: "text"},
		{name: "empty is an empty object", in: "", want: map[string]any{}},
		{name: "blank is an empty object", in: " \n\t", want: map[string]any{}},
		{name: "invalid", in: `{"a":`, wantErr: "decode json"},
		{name: "trailing data", in: `{} {}`, wantErr: "data after the top-level value"},
		{name: "number out of range", in: `1e999`, wantErr: "number out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeJSON([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("DecodeJSON(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeJSON(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("DecodeJSON(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}
