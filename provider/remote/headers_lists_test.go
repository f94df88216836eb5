package remote

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/transform"
)

// TestHeadersTakeTheirLists: the outgoing transform's headers go into the request
// as the lists read from the result, not copied value by value through Header.Add (a
// slice a value, four a DUO call), with the same names canonicalized and the same values.
func TestHeadersTakeTheirLists(t *testing.T) {
	res := transform.NewValue(map[string]any{"header": map[string]any{
		"Date": "Tue, 01 Dec 2026 10:00:00 -0000", "authorization": "Basic eDp5",
		"Content-Type": "application/x-www-form-urlencoded", "x-multi": []any{"a", "b"}, "x-none": []any{},
	}})
	var o outgoing
	if err := o.apply(nil, res); err != nil {
		t.Fatal(err)
	}
	want := http.Header{"Date": {"Tue, 01 Dec 2026 10:00:00 -0000"}, "Authorization": {"Basic eDp5"},
		"Content-Type": {"application/x-www-form-urlencoded"}, "X-Multi": {"a", "b"}}
	if diff := cmp.Diff(want, o.header); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	n := testing.AllocsPerRun(100, func() {
		var o outgoing
		_ = o.apply(nil, res)
	})
	if n > 16 {
		t.Errorf("applying a result with five headers: %v allocations, want at most 16 (21 through Header.Add)", n)
	}
}
