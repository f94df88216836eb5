package remote

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/transform"
)

// TestHeaderListsShareArray: an outgoing result's header and query lists are read
// as before (a string, a scalar, a list; an empty list; a list with a map in it refused)
// but share one backing array, and appending to one list (a repeated header name, an
// authentication header added) never writes into its neighbour.
func TestHeaderListsShareArray(t *testing.T) {
	res := transform.NewValue(map[string]any{
		"header": map[string]any{
			"Date": "Tue, 01 Dec 2026 10:00:00 -0000", "x-n": int64(7), "x-multi": []any{"a", "b"}, "x-none": []any{},
			"x-multi-2": "c", "X-Multi-2": "d",
		},
		"query": map[string]any{"a": "1", "b": []any{"2", "3"}, "c": []any{}, "d": 1.5},
	})
	var o outgoing
	if err := o.apply(nil, res); err != nil {
		t.Fatal(err)
	}
	got := o.header.Clone()
	// The two spellings of X-Multi-2 come in either order.
	if v := got["X-Multi-2"]; len(v) == 2 && v[0] == "d" {
		got["X-Multi-2"] = []string{"c", "d"}
	}
	want := http.Header{"Date": {"Tue, 01 Dec 2026 10:00:00 -0000"}, "X-N": {"7"}, "X-Multi": {"a", "b"}, "X-Multi-2": {"c", "d"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"a": {"1"}, "b": {"2", "3"}, "c": {}, "d": {"1.5"}}, o.query); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	before := map[string][]string{}
	for k, v := range o.header {
		before[k] = append([]string(nil), v...)
	}
	for k := range o.header {
		o.header[k] = append(o.header[k], "appended")
	}
	for k, v := range o.header {
		if diff := cmp.Diff(append(before[k], "appended"), v); diff != "" {
			t.Errorf("header %s after appends (-want +got):\n%s", k, diff)
		}
	}
	var u url.URL
	o.onto(&u)
	if u.RawQuery != "a=1&b=2&b=3&d=1.5" {
		t.Errorf("query %q", u.RawQuery)
	}
	bad := transform.NewValue(map[string]any{"header": map[string]any{"x": []any{"a", map[string]any{}}}})
	if err := (&outgoing{}).apply(nil, bad); err == nil || err.Error() != "header x: value must be a string or a list of strings" {
		t.Errorf("a list with a map: %v", err)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	duo := transform.NewValue(map[string]any{"header": map[string]any{
		"Date": "Tue, 01 Dec 2026 10:00:00 -0000", "Authorization": "Basic eDp5",
		"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
	}})
	n := testing.AllocsPerRun(100, func() {
		var o outgoing
		_ = o.apply(nil, duo)
	})
	t.Logf("a DUO call's four headers: %v allocations", n)
	if n > 8 {
		t.Errorf("applying DUO's four headers: %v allocations, want at most 8 (11 with a slice a list)", n)
	}
}
