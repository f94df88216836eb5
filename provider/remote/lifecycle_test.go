package remote

import (
	"strings"
	"testing"
)

// Load-time checks of a lifecycle section name each problem by its path.
func TestLifecycleValidation(t *testing.T) {
	w := &Webhook{URLs: []string{"https://vendor.example"}, Lifecycle: map[string][]LifecycleStep{
		"user.explode": {{Resource: Resource{Suffix: "/x"}}},
		"user.delete": {
			{Name: "del", Resource: Resource{Method: "DELETE", Transform: Transform{Outgoing: `{"path": "/u/" + steps.lookup.body.id}`}}},
			{Name: "lookup", Resource: Resource{Method: "GET"}},
		},
		"user.disable": {
			{Name: "a", Resource: Resource{Transform: Transform{Outgoing: `{"path": item.x}`}}},
			{Name: "b", ForEach: `steps.a.body.list`, Resource: Resource{Transform: Transform{Incoming: `{"body": item, "x": }`}}},
			{Name: "c", Resource: Resource{Transform: Transform{Outgoing: `{"q": steps["nope"]}`}}},
			{Name: "a", Resource: Resource{Method: "FETCH", ExpectedStatus: []int{42}}},
		},
	}}
	_, err := Check(w)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`lifecycle.user.explode: unknown event type "user.explode"`,
		`lifecycle.user.delete[0].transform.outgoing: steps.lookup names a later step`,
		`lifecycle.user.disable[0].transform.outgoing:`, // item outside forEach
		`undeclared reference to 'item'`,
		`lifecycle.user.disable[1].transform.incoming:`, // syntax error
		`lifecycle.user.disable[2].transform.outgoing: steps.nope names no step`,
		`lifecycle.user.disable[3].name: "a" names an earlier step too`,
		`lifecycle.user.disable[3].method: "FETCH"`,
		`lifecycle.user.disable[3].expectedStatus[0]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestLifecycleStepRefs(t *testing.T) {
	got := stepRefs(`has(steps.a.body) ? steps["b"].x : steps.a.y.map(i, i)`)
	if strings.Join(got, ",") != "a,b" {
		t.Errorf("refs = %v", got)
	}
}
