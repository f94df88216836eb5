package adapter

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emfa/emfa/store"
)

// TestGroupPatchReadsMembersOnce: a group PATCH read the names of the users each
// operation names as members with a read of its own (UserNamesByID), and Entra ID sends
// an operation per member: 50,000 one-member adds were 50,000 reads. The operations'
// members are read at once now, whatever their number (adds, removes by value filter and
// by value, an add with no path), and what the operations make of the group, and what
// they refuse and in which order, is as it was: the first operation that refuses (an id
// that names no user where one must, a displayName that is not a string, a store
// failing) is the one answered.
func TestGroupPatchReadsMembersOnce(t *testing.T) {
	h := newSyncHarness(t)
	const n = 300
	members, names := d92Members(t, h.st, n)
	ids := make([]string, n)
	for i, m := range members {
		ids[i] = m.(map[string]any)["value"].(string)
	}
	reads := &nameReads{SyncQueue: h.q.Store}
	h.q.Store = reads
	api := &syncAPI{o: Sync{Queue: h.q}}
	ops := func(body string) []patchOp { return patchOpsOf(t, body) }
	patch := func(body string, have []string) ([]string, error, int64) {
		t.Helper()
		reads.calls.Store(0)
		_, _, want, err := api.patchedGroup(context.Background(), ops(body), store.Group{Name: "d92"}, have)
		return want, err, reads.calls.Load()
	}

	// n-3 one-member adds, then a removal of each of the first ten by its id (a filter),
	// and of the next ten by a value, of one each; adds with no path, by the attribute's
	// name and by its URN; a member the group had removed by its id; an id that names no
	// user removed, which is no member. Each id but the first n-3 named once.
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(patchOneOpEach("add", ids[:n-3]), "]}"))
	for _, id := range ids[:10] {
		b.WriteString(`,{"op":"remove","path":"members[value eq \"` + id + `\"]"}`)
	}
	for _, id := range ids[10:20] {
		b.WriteString(`,{"op":"remove","path":"members","value":[{"value":"` + id + `"}]}`)
	}
	b.WriteString(`,{"op":"add","value":{"members":[{"value":"` + ids[n-3] + `"}]}}`)
	b.WriteString(`,{"op":"add","value":{"` + scimGroupSchema + `:members":[{"value":"` + ids[n-2] + `"}]}}`)
	b.WriteString(`,{"op":"remove","path":"members[value eq \"` + ids[n-1] + `\"]"}`)
	b.WriteString(`,{"op":"remove","path":"members[value eq \"nobody\"]"},{"op":"remove","path":"members","value":[{"value":"nobody"}]}]}`)
	got, err, calls := patch(b.String(), names[n-1:])
	if err != nil {
		t.Fatal(err)
	}
	if want := names[20 : n-1]; !slices.Equal(got, want) {
		t.Errorf("members %d, want %d: %q…", len(got), len(want), got[max(0, len(got)-3):])
	}
	if calls != 1 {
		t.Errorf("a PATCH of %d operations naming members read users' names by id %d times, want once", n+22, calls)
	}

	// Refusals, each the first in the operations' order; members named by nothing but a
	// display are not read at all.
	for _, tc := range []struct {
		name, ops string
		want      string // the refusal's detail; "" none
		reads     int64
	}{
		{"unknown id first", `{"op":"add","path":"members","value":[{"value":"` + ids[0] + `"}]},{"op":"add","path":"members","value":[{"value":"nobody-1"}]},{"op":"replace","path":"displayName","value":5},{"op":"add","path":"members","value":[{"value":"nobody-2"}]}`,
			"no user with id nobody-1", 1},
		{"displayName first", `{"op":"replace","path":"displayName","value":5},{"op":"add","path":"members","value":[{"value":"nobody-1"}]}`,
			"displayName must be a string", 0},
		{"an unknown id, then a member without a value", `{"op":"add","path":"members","value":[{"value":"nobody-1"}]},{"op":"add","path":"members","value":[{"display":"x"}]}`,
			"no user with id nobody-1", 1},
		{"a member without a value, then an unknown id", `{"op":"add","path":"members","value":[{"display":"x"}]},{"op":"add","path":"members","value":[{"value":"nobody-1"}]}`,
			"a member needs a value (a user id)", 0},
		{"removed unknown, added unknown", `{"op":"remove","path":"members","value":[{"value":"nobody-1"}]},{"op":"replace","path":"members","value":[{"value":"` + ids[1] + `"},{"value":"nobody-1"}]}`,
			"no user with id nobody-1", 1},
		{"by display only", `{"op":"remove","path":"members[display eq \"` + names[0] + `\"]"},{"op":"replace","path":"displayName","value":"d93"}`,
			"", 0},
	} {
		_, err, calls := patch(`{"Operations":[`+tc.ops+`]}`, names[:2])
		var e *scimError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.As(err, &e) || e.Status != 400 || e.Detail != tc.want):
			t.Errorf("%s: %v, want 400 %q", tc.name, err, tc.want)
		}
		if calls != tc.reads {
			t.Errorf("%s: %d reads, want %d", tc.name, calls, tc.reads)
		}
	}

	// A store failing is met at the first operation that reads, after what an earlier
	// one refuses.
	h.q.Store = failingNames{reads.SyncQueue}
	addOne := `{"op":"add","path":"members","value":[{"value":"` + ids[0] + `"}]}`
	if _, err, _ := patch(`{"Operations":[{"op":"replace","path":"displayName","value":5},`+addOne+`]}`, nil); err == nil || !strings.Contains(err.Error(), "displayName must be a string") {
		t.Errorf("an invalid displayName before a failing read: %v", err)
	}
	if _, err, _ := patch(`{"Operations":[`+addOne+`,{"op":"replace","path":"displayName","value":5}]}`, nil); !errors.Is(err, errNamesDown) {
		t.Errorf("a failing read before an invalid displayName: %v", err)
	}
}

// failingNames is a sync queue store whose reads of users' names by id fail.
type failingNames struct{ store.SyncQueue }

var errNamesDown = errors.New("names down")

func (failingNames) UserNamesByID(context.Context, []string) (map[string]string, error) {
	return nil, errNamesDown
}
