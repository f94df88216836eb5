package remote

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/telemetry"
	"github.com/emfa/emfa/transform"
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
		`lifecycle.user.disable[3].name: names an earlier step too (lifecycle.user.disable[0])`,
		`lifecycle.user.disable[3].method: not one of`,
		`lifecycle.user.disable[3].expectedStatus[0]`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
}

func TestLifecycleStepRefs(t *testing.T) {
	prg, err := transform.Compile(lcEnv(lcOutgoing, false, false), `{"body": has(steps.a.body) ? steps["b"].x : steps.a.y.map(i, i)}`)
	if err != nil {
		t.Fatal(err)
	}
	got := stepRefs(prg)
	if strings.Join(got, ",") != "a,b" {
		t.Errorf("refs = %v", got)
	}
}

// Lifecycle calls are vendor calls: counted in the vendor-call metrics as contract calls
// are, the resource label naming the event type and step; a failed lifecycle transform is
// a CEL error. A step its outgoing transform skips makes no call and counts none.
func TestLifecycleCallsCounted(t *testing.T) {
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if r.URL.Path == "/u/del" {
			return 503, `{}`
		}
		return 200, `{"ok":true}`
	})
	m := telemetry.NewMetrics("test")
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.create": {{Name: "add", Resource: Resource{Suffix: "/u/add"}}},
		"user.delete": {
			{Name: "lookup", Resource: Resource{Suffix: "/u/lookup", Method: "GET"}},
			{Name: "del", Resource: Resource{Suffix: "/u/del", Method: "DELETE"}},
		},
		"user.disable": {
			{Name: "quiet", Resource: Resource{Suffix: "/u/quiet", Transform: Transform{Outgoing: `{"skip": true}`}}},
			{Name: "off", Resource: Resource{Suffix: "/u/off", Transform: Transform{Outgoing: `{"path": event.attributes.path}`}}},
		},
		"user.enable": {{Name: "each", ForEach: `event.attributes.list`, Resource: Resource{Suffix: "/u/on"}}},
	}}, Provider: "acme", Store: testdb.SQLite(t), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx := context.Background()
	if err := e.Propagate(ctx, provider.LifecycleEvent{ID: "1", Type: "user.create", Username: "alice"}); err != nil {
		t.Errorf("user.create: %v", err)
	}
	if err := e.Propagate(ctx, provider.LifecycleEvent{ID: "2", Type: "user.delete", Username: "alice"}); err == nil {
		t.Error("user.delete answered 503, no error")
	}
	if err := e.Propagate(ctx, provider.LifecycleEvent{ID: "3", Type: "user.disable", Username: "alice"}); err == nil {
		t.Error("user.disable's transform failed, no error")
	}
	if err := e.Propagate(ctx, provider.LifecycleEvent{ID: "4", Type: "user.enable", Username: "alice"}); err == nil {
		t.Error("user.enable's forEach failed, no error")
	}

	want := map[string]float64{
		`emfa_vendor_calls_total{outcome=ok,provider=acme,resource=lifecycle:user.create:add}`:               1,
		`emfa_vendor_calls_total{outcome=ok,provider=acme,resource=lifecycle:user.delete:lookup}`:            1,
		`emfa_vendor_calls_total{outcome=status,provider=acme,resource=lifecycle:user.delete:del}`:           1,
		`emfa_vendor_calls_total{outcome=transform_error,provider=acme,resource=lifecycle:user.disable:off}`: 1,
		`emfa_vendor_call_duration_seconds_count{provider=acme,resource=lifecycle:user.create:add}`:          1,
		`emfa_vendor_call_duration_seconds_count{provider=acme,resource=lifecycle:user.delete:lookup}`:       1,
		`emfa_vendor_call_duration_seconds_count{provider=acme,resource=lifecycle:user.delete:del}`:          1,
		`emfa_cel_errors_total{direction=outgoing,provider=acme,resource=lifecycle:user.disable:off}`:        1,
		`emfa_cel_errors_total{direction=forEach,provider=acme,resource=lifecycle:user.enable:each}`:         1,
	}
	got := gather(t, m.Registry(), "emfa_vendor_", "emfa_cel_")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

// gather is the registry's counters and histogram counts whose names start with one of
// prefixes, as name{label=value,...} with the labels sorted.
func gather(t *testing.T, g prometheus.Gatherer, prefixes ...string) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(mf.GetName(), p) }) {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch {
			case mt.GetCounter() != nil:
				out[mf.GetName()+key] = mt.GetCounter().GetValue()
			case mt.GetHistogram() != nil:
				out[mf.GetName()+"_count"+key] = float64(mt.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// A propagation is audited with the actor sync:SOURCE, as the apply of its event is, so
// that an admin token named after a source cannot pass for it; and a propagation whose
// worker stops (a SIGTERM during a hanging vendor call) is still audited FAILED.
func TestLifecycleAudited(t *testing.T) {
	entered := make(chan struct{})
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		if r.URL.Path == "/u/hang" {
			close(entered)
			<-r.Context().Done()
			return 504, `{}`
		}
		return 200, `{}`
	})
	st := testdb.SQLite(t)
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.create":  {{Name: "add", Resource: Resource{Suffix: "/u/add"}}},
		"user.disable": {{Name: "off", Resource: Resource{Suffix: "/u/hang"}}},
	}}, Provider: "acme", Store: st, Audit: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	if got := e.PropagationTarget(); got != "acme" {
		t.Errorf("PropagationTarget() = %q, want the credential prefix", got)
	}
	if err := e.Propagate(t.Context(), provider.LifecycleEvent{ID: "1", Type: "user.create", Source: "okta", Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-entered; cancel() }()
	if err := e.Propagate(ctx, provider.LifecycleEvent{ID: "2", Type: "user.disable", Source: "okta", Username: "alice"}); err == nil {
		t.Fatal("a call canceled: no error")
	}
	evs, err := st.ListAudit(t.Context(), store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Resource+" "+ev.Outcome+" "+ev.Actor)
	}
	slices.Sort(got)
	if want := []string{"lifecycle:user.create SUCCESS sync:okta", "lifecycle:user.disable FAILED sync:okta"}; !slices.Equal(got, want) {
		t.Errorf("audited %q, want %q", got, want)
	}
}

// A propagation of an admin's change is audited with the admin's actor (the token's name,
// cli) that the event carries, and every propagation with the id of the request that
// queued its event, so that the vendor's calls are found beside the change's own record;
// a propagation queued by an older emfa, without them, keeps sync:SOURCE and the event's
// id. The user.disable that follows a user created disabled carries them too.
func TestLifecycleAuditedWithTheQueuingRequest(t *testing.T) {
	v := newVendor(t, func(*http.Request, string) (int, string) { return 200, `{}` })
	st := testdb.SQLite(t)
	e, err := New(Options{Webhook: &Webhook{URLs: []string{v.srv.URL}, Lifecycle: map[string][]LifecycleStep{
		"user.create":  {{Name: "add", Resource: Resource{Suffix: "/u/add"}}},
		"user.disable": {{Name: "off", Resource: Resource{Suffix: "/u/off"}}},
		"user.enable":  {{Name: "on", Resource: Resource{Suffix: "/u/on"}}},
	}}, Provider: "acme", Store: st, Audit: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	for _, ev := range []provider.LifecycleEvent{
		{ID: "e1", Type: "user.create", Source: "admin", Username: "alice", Disabled: true, Actor: "ops-token", RequestID: "req-1"},
		{ID: "e2", Type: "user.enable", Source: "admin", Username: "alice", Actor: "cli"},       // the CLI: no request
		{ID: "e3", Type: "user.disable", Source: "admin", Username: "alice"},                    // queued by an older emfa
		{ID: "e4", Type: "user.enable", Source: "okta", Username: "alice", RequestID: "hook-9"}, // a directory's
	} {
		if err := e.Propagate(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := st.ListAudit(t.Context(), store.AuditFilter{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Resource+" "+ev.Actor+" "+ev.RequestID)
	}
	slices.Sort(got)
	want := []string{
		"lifecycle:user.create ops-token req-1",
		"lifecycle:user.disable ops-token req-1",
		"lifecycle:user.disable sync:admin e3",
		"lifecycle:user.enable cli e2",
		"lifecycle:user.enable sync:okta hook-9",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audited (-want +got):\n%s", diff)
	}
}
