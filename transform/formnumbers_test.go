package transform

import "testing"

// TestFormEncodedDoublesAsJSONText: jsonToFormURLEncoded renders numbers "as their
// JSON text" (library.go), the text toJSON's result gets from encoding/json: 1000000.0 is
// 1000000, not Go's %g form 1e+06 (sent percent-encoded as 1e%2B06), which a vendor
// reading a decimal parameter refuses or misreads. Exponents stay where JSON has them.
func TestFormEncodedDoublesAsJSONText(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "a million", expr: `jsonToFormURLEncoded({"n": 1000000.0}, true)`, want: "n=1000000"},
		{name: "a fraction", expr: `jsonToFormURLEncoded({"n": 1234567.5}, true)`, want: "n=1234567.5"},
		{name: "a whole double", expr: `jsonToFormURLEncoded({"n": 100.0}, true)`, want: "n=100"},
		{name: "small", expr: `jsonToFormURLEncoded({"n": 0.0001}, true)`, want: "n=0.0001"},
		{name: "tiny", expr: `jsonToFormURLEncoded({"n": 0.0000001}, true)`, want: "n=1e-7"},
		{name: "huge", expr: `jsonToFormURLEncoded({"n": 1e21}, true)`, want: "n=1e%2B21"},
		{name: "in a list", expr: `jsonToFormURLEncoded({"n": [2e6, 1]}, true)`, want: "n=2000000&n=1"},
		{name: "not a number", expr: `jsonToFormURLEncoded({"n": 0.0 / 0.0}, true)`, wantErr: "not a finite number"},
	})
}
