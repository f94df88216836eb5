package remote

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/telemetry"
)

// A paged step is checked at load: maxPages needs nextPage and a bound; page is read only
// in a paged step; nextPage reads only earlier steps.
func TestLifecyclePagingValidation(t *testing.T) {
	w := &Webhook{URLs: []string{"https://vendor.example"}, Lifecycle: map[string][]LifecycleStep{
		"user.delete": {
			{Name: "a", MaxPages: 5, Resource: Resource{Method: "GET"}},
			{Name: "b", NextPage: `body.next`, MaxPages: maxMaxPages + 1, Resource: Resource{Method: "GET"}},
			{Name: "c", Resource: Resource{Transform: Transform{Outgoing: `{"path": "/" + string(page)}`}}},
			{Name: "d", NextPage: `steps.e.body`, Resource: Resource{Method: "GET"}},
			{Name: "e", NextPage: `body.next ? `, Resource: Resource{Method: "GET"}},
			{Name: "g", NextPage: `answer.body.more ? page + 1 : null`, Resource: Resource{Method: "GET"}},
			{Name: "f", NextPage: `answer.body.more ? dyn(page + 1) : null`, MaxPages: 3, Resource: Resource{Method: "GET",
				Transform: Transform{Outgoing: `{"query": {"p": page == null ? "0" : string(page)}}`, Incoming: `{"body": page}`}}},
		},
	}}
	_, err := Check(w)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`lifecycle.user.delete[0].maxPages: bounds the calls of nextPage, which this step does not have`,
		`lifecycle.user.delete[1].maxPages: must be between 1 and 10000`,
		`lifecycle.user.delete[2].transform.outgoing:`, // page outside a paged step
		`undeclared reference to 'page'`,
		`lifecycle.user.delete[3].nextPage: steps.e names a later step`,
		`lifecycle.user.delete[4].nextPage:`, // syntax error
		`lifecycle.user.delete[5].nextPage:`, // int beside null
		`(a page beside null is written dyn(...): cond ? dyn(offset + 100) : null)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "user.delete[6]") {
		t.Errorf("a well-formed paged step refused:\n%s", msg)
	}
}

// A paged step calls page after page while nextPage gives one: page is null on the first
// call, then what nextPage gave; the step's answer is its last call's, so a search stops
// where it found. A list longer than maxPages, or a vendor that answers a page already
// read, fails the propagation rather than end it on part of the list; nextPage failing
// is a CEL error of its own direction.
func TestLifecyclePaging(t *testing.T) {
	var mu sync.Mutex
	var asked []string // the vendor's calls, path?query
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		mu.Lock()
		asked = append(asked, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		n, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		switch r.URL.Path {
		case "/list": // ten items, three a page: 0..2, 3..5, 6..8, 9
			var items []string
			for i := n; i < min(n+3, 10); i++ {
				items = append(items, fmt.Sprintf(`"i%d"`, i))
			}
			next := "null"
			if n+3 < 10 {
				next = strconv.Itoa(n + 3)
			}
			return 200, `{"items": [` + strings.Join(items, ",") + `], "next": ` + next + `}`
		case "/loop":
			return 200, `{"items": [], "next": 0}`
		}
		return 200, `{}`
	})
	m := telemetry.NewMetrics("test")
	list := func(nextPage string, maxPages int, incoming string) LifecycleStep {
		return LifecycleStep{Name: "find", NextPage: nextPage, MaxPages: maxPages, Resource: Resource{Suffix: "/list", Method: "GET",
			Transform: Transform{Outgoing: `{"query": {"offset": page == null ? "0" : string(page)}}`, Incoming: incoming}}}
	}
	found := `{"body": {"found": body.items.exists(i, i == event.group), "from": page}}`
	record := LifecycleStep{Name: "record", Resource: Resource{Suffix: "/record", Method: "GET",
		Transform: Transform{Outgoing: `{"query": {"found": string(steps.find.body.found),
			"from": steps.find.body.from == null ? "null" : string(steps.find.body.from)}}`}}}
	last := LifecycleStep{Name: "last", Resource: Resource{Suffix: "/record", Method: "GET",
		Transform: Transform{Outgoing: `{"query": {"items": steps.find.body.items.join(",")}}`}}}
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		// Until found.
		"group.member.add": {list(`!answer.body.found ? body.next : null`, 0, found), record},
		// Every page, then the group is not on any.
		"group.member.remove": {list(`body.next`, 0, `{"skip": !body.items.exists(i, i == event.group) && body.next == null}`), last},
		// Bounded: three pages of four.
		"group.create": {list(`body.next`, 3, "")},
		// A vendor that answers the first page again.
		"group.delete": {{Name: "loop", NextPage: `body.next`, Resource: Resource{Suffix: "/loop", Method: "GET",
			Transform: Transform{Outgoing: `{"query": {"offset": page == null ? "0" : string(page)}}`}}}},
		// nextPage failing.
		"group.rename": {list(`body.nope`, 0, "")},
		// An outgoing skip ends the paging.
		"user.mfa.reset": {{Name: "skipped", NextPage: `1`, Resource: Resource{Suffix: "/list", Method: "GET",
			Transform: Transform{Outgoing: `{"skip": true}`}}},
			{Name: "after", Resource: Resource{Suffix: "/record", Method: "GET",
				Transform: Transform{Outgoing: `{"query": {"status": string(steps.skipped.status)}}`}}}},
	}}, Provider: "acme", Store: testdb.SQLite(t), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	run := func(typ, group string) ([]string, error) {
		t.Helper()
		mu.Lock()
		asked = nil
		mu.Unlock()
		err := e.Propagate(ctx, provider.LifecycleEvent{ID: typ + group, Type: typ, Username: "alice", Group: group})
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(asked), err
	}
	for _, c := range []struct {
		typ, group string
		want       []string
		err        string
	}{
		{"group.member.add", "i4", []string{"/list?offset=0", "/list?offset=3", "/record?found=true&from=3"}, ""},
		{"group.member.add", "i0", []string{"/list?offset=0", "/record?found=true&from=null"}, ""},
		{"group.member.add", "x", []string{"/list?offset=0", "/list?offset=3", "/list?offset=6", "/list?offset=9", "/record?found=false&from=9"}, ""},
		{"group.member.remove", "i9", []string{"/list?offset=0", "/list?offset=3", "/list?offset=6", "/list?offset=9", "/record?items=i9"}, ""},
		{"group.member.remove", "x", []string{"/list?offset=0", "/list?offset=3", "/list?offset=6", "/list?offset=9"}, ""},
		{"group.create", "", []string{"/list?offset=0", "/list?offset=3", "/list?offset=6"}, "step find: more than 3 pages (maxPages)"},
		{"group.delete", "", []string{"/loop?offset=0", "/loop?offset=0"}, "step loop: page 2: nextPage gave a page already read"},
		{"group.rename", "", []string{"/list?offset=0"}, "step find: page 1: nextPage:"},
		{"user.mfa.reset", "", []string{"/record?status=0"}, ""},
	} {
		got, err := run(c.typ, c.group)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s %q: calls %q, want %q", c.typ, c.group, got, c.want)
		}
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s %q: error %v, want %q", c.typ, c.group, err, c.err)
		}
	}
	got := gather(t, m.Registry(), "emfa_cel_")
	if n := got[`emfa_cel_errors_total{direction=nextPage,provider=acme,resource=lifecycle:group.rename:find}`]; n != 1 {
		t.Errorf("nextPage errors counted %v: %v", n, got)
	}
}
