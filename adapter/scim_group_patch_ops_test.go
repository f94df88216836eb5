package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// patchOneOpEach is a SCIM PATCH body with one operation per member, as directories
// that send a change of membership each send them: an add of its {value}, or a remove by
// a filter on its display (its user name) or on its id.
func patchOneOpEach(op string, vals []string) string {
	var b strings.Builder
	b.WriteString(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[`)
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		switch op {
		case "remove-display":
			fmt.Fprintf(&b, `{"op":"remove","path":"members[display eq \"%s\"]"}`, v)
		case "remove-value":
			fmt.Fprintf(&b, `{"op":"remove","path":"members[value eq \"%s\"]"}`, v)
		default:
			fmt.Fprintf(&b, `{"op":%q,"path":"members","value":[{"value":%q}]}`, op, v)
		}
	}
	b.WriteString(`]}`)
	return b.String()
}

// TestGroupPatchOfOneOpPerMemberIsLinear: a group PATCH with one operation per member
// made a set of all the members so far at each add, and went through all of them at
// each remove: a PATCH of 50,000 adds, one each, spent SCIM's 10 s building sets and was
// answered 503 before anything was written. The members are kept in one set through the
// operations now: twice the operations allocate about twice the bytes, not four times.
// Counted, not timed; what the operations make of the members is checked too.
func TestGroupPatchOfOneOpPerMemberIsLinear(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without the race detector")
	}
	h := newSyncHarness(t)
	const n = 4_000
	members, names := d92Members(t, h.st, n)
	ids := make([]string, n)
	for i, m := range members {
		ids[i] = m.(map[string]any)["value"].(string)
	}
	api := &syncAPI{o: Sync{Queue: h.q}}
	ops := func(body string) []patchOp { return patchOpsOf(t, body) }
	// patched is what a PATCH adding the first k members, one an operation, then
	// removing the first k/2 of them by display, one an operation, makes of a group of
	// none, and the bytes it allocated.
	patched := func(k int) ([]string, uint64) {
		t.Helper()
		add, remove := ops(patchOneOpEach("add", ids[:k])), ops(patchOneOpEach("remove-display", names[:k/2]))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, want, err := api.patchedGroup(context.Background(), append(add, remove...), store.Group{Name: "d92"}, nil)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("PATCH of %d operations: %v", 3*k/2, err)
		}
		return want, after.TotalAlloc - before.TotalAlloc
	}
	if got, _ := patched(8); !slices.Equal(got, names[4:8]) {
		t.Errorf("4 added and 2 of them removed, one an operation: %q, want %q", got, names[4:8])
	}
	_, half := patched(n / 2)
	got, whole := patched(n)
	if whole > 3*half {
		t.Errorf("a PATCH of %d one-member adds (and %d removes) allocated %d bytes, %.1f times the %d of half as many: it grows as their square", n, n/2, whole, float64(whole)/float64(half), half)
	}
	if !slices.Equal(got, names[n/2:]) {
		t.Errorf("%d added, the first %d removed: %d members, want %d", n, n/2, len(got), n/2)
	}

	// Removed and added again: at the end, as before; by id, or all of them.
	body := `{"Operations":[{"op":"add","path":"members","value":[{"value":"` + ids[0] + `"},{"value":"` + ids[1] + `"},{"value":"` + ids[2] + `"}]},` +
		`{"op":"remove","path":"members[value eq \"` + ids[0] + `\"]"},{"op":"add","path":"members","value":[{"value":"` + ids[0] + `"},{"value":"` + ids[1] + `"}]}]}`
	if _, _, got, err := api.patchedGroup(context.Background(), ops(body), store.Group{Name: "d92"}, []string{names[3]}); err != nil || !slices.Equal(got, []string{names[3], names[1], names[2], names[0]}) {
		t.Errorf("removed and added again: %q %v", got, err)
	}
	body = `{"Operations":[{"op":"remove","path":"members[display eq \"` + strings.ToUpper(names[1]) + `\"]"},{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"` + ids[2] + `"}]}]}`
	if _, _, got, err := api.patchedGroup(context.Background(), ops(body), store.Group{Name: "d92"}, names[:3]); err != nil || !slices.Equal(got, names[2:3]) {
		t.Errorf("all removed, one added: %q %v", got, err)
	}
}

// patchOpsOf is the operations of a PATCH body, for tests that call patchedGroup.
func patchOpsOf(t testing.TB, body string) []patchOp {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(body), &obj); err != nil {
		t.Fatal(err)
	}
	o, err := patchOps(obj)
	if err != nil {
		t.Fatal(err)
	}
	return o
}
