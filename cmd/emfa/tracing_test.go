package main

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/emfa/emfa/provider/builtin"
)

// keptSpans is the in-memory exporter without its Shutdown, which would drop the spans
// serve's exit flushed; it counts the shutdowns instead.
type keptSpans struct {
	*tracetest.InMemoryExporter
	shutdowns atomic.Int32
}

func newKeptSpans() *keptSpans { return &keptSpans{InMemoryExporter: tracetest.NewInMemoryExporter()} }

func (k *keptSpans) Shutdown(context.Context) error { k.shutdowns.Add(1); return nil }

// spans are the spans exported once serve has shut its tracer provider down.
func (k *keptSpans) spans(t *testing.T) spanIndex {
	t.Helper()
	if n := k.shutdowns.Load(); n != 1 {
		t.Errorf("exporter shut down %d times, want once at serve's exit", n)
	}
	return spanIndex{t, k.GetSpans()}
}

// tracingSection turns tracing on; the test's exporter receives the spans instead of
// the endpoint.
const tracingSection = "tracing: {endpoint: \"127.0.0.1:4318\", insecure: true, sampleRatio: 1}\n"

// spanIndex finds spans by name and checks their links.
type spanIndex struct {
	t     *testing.T
	spans tracetest.SpanStubs
}

func (x spanIndex) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range x.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func (x spanIndex) one(name string) tracetest.SpanStub {
	x.t.Helper()
	got := x.named(name)
	if len(got) != 1 {
		x.t.Fatalf("%d spans named %q, want 1; all: %s", len(got), name, x.names())
	}
	return got[0]
}

func (x spanIndex) prefixed(prefix string) tracetest.SpanStub {
	x.t.Helper()
	var out []tracetest.SpanStub
	for _, s := range x.spans {
		if strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	if len(out) != 1 {
		x.t.Fatalf("%d spans named %q…, want 1; all: %s", len(out), prefix, x.names())
	}
	return out[0]
}

func (x spanIndex) names() string {
	var n []string
	for _, s := range x.spans {
		n = append(n, s.Name)
	}
	return strings.Join(n, ", ")
}

func (x spanIndex) parent(child, parent tracetest.SpanStub) {
	x.t.Helper()
	if child.Parent.SpanID() != parent.SpanContext.SpanID() || child.SpanContext.TraceID() != parent.SpanContext.TraceID() {
		x.t.Errorf("%q is not a child of %q", child.Name, parent.Name)
	}
}

// noneCarries fails when any attribute of any span (or its status description) holds
// one of the values.
func (x spanIndex) noneCarries(values ...string) {
	x.t.Helper()
	for _, s := range x.spans {
		texts := []string{s.Name, s.Status.Description}
		for _, kv := range append(append([]attribute.KeyValue{}, s.Attributes...), s.Resource.Attributes()...) {
			texts = append(texts, kv.Value.Emit())
		}
		for _, t := range texts {
			for _, v := range values {
				if strings.Contains(t, v) {
					x.t.Errorf("span %q carries %q: %q", s.Name, v, t)
				}
			}
		}
	}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// A mediated DUO validate: the server span, the contract span, the outgoing and incoming
// CEL spans and the vendor span (with otelhttp's client span under it), linked, and
// the vendor got the trace context.
func TestTracingDUO(t *testing.T) {
	exp := newKeptSpans()
	duo := newDUO(t)
	duo.SetPasscode("alice", "845219")
	path := writeTestConfig(t, "", "providers:\n"+duoProvider(t, duo.URL(), "")+tracingSection)
	app := &cli{traces: exp}
	base, _, stop := app.serve(t, "--config", path)
	sim := &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}
	if st, _ := sim.challenge("validate", "hotp", aliceID, "alice", "", "845219"); st != "SUCCESS" {
		t.Fatalf("validate: %s", st)
	}
	stop() // flushed at exit

	x := exp.spans(t)
	server := x.one("POST /v1/providers/duo/validate")
	contract := x.one("contract validate")
	x.parent(contract, server)
	if attr(contract, "emfa.status") != "SUCCESS" || attr(contract, "emfa.provider") != "duo" || attr(contract, "emfa.capability") != "hotp" {
		t.Errorf("contract span attributes %v", contract.Attributes)
	}
	vendor := x.prefixed("vendor ") // named after the webhook's resource (hotp_1)
	x.parent(vendor, contract)
	if attr(vendor, "http.response.status_code") != "200" {
		t.Errorf("vendor span attributes %v", vendor.Attributes)
	}
	for _, dir := range []string{"outgoing", "incoming"} {
		cel := x.named("cel " + dir)
		if len(cel) == 0 {
			t.Fatalf("no cel %s span: %s", dir, x.names())
		}
		x.parent(cel[0], contract)
	}
	client := x.one("HTTP POST")
	x.parent(client, vendor)
	if u := attr(client, "url.full"); u != duo.URL() {
		t.Errorf("client span url.full %q, want the vendor's origin only", u)
	}
	var seen bool
	for _, r := range duo.Requests() {
		if strings.HasPrefix(r.Path, "/auth/v2/auth") {
			tp := r.Header.Get("Traceparent")
			want := "00-" + client.SpanContext.TraceID().String() + "-" + client.SpanContext.SpanID().String() + "-01"
			if tp != want {
				t.Errorf("DUO got traceparent %q, want %q", tp, want)
			}
			seen = true
		}
	}
	if !seen {
		t.Errorf("DUO saw no /auth/v2/auth: %+v", duo.Requests())
	}
	x.noneCarries("alice", "845219", aliceID, duoSKey, duoIKey, "sim-password-0123", "XXX-XXX-0123")
}

// A builtin TOTP validate: the contract span with the store unit that decided it.
func TestTracingBuiltinTOTP(t *testing.T) {
	exp := newKeptSpans()
	path := writeTestConfig(t, "", `providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
`+tracingSection)
	mustEmfa(t, "users", "add", "alice", "--config", path)
	seed := []byte("0123456789abcdefghij")
	var factor struct{ ID string }
	out := mustEmfa(t, "factors", "add", "totp", "--config", path, "--user", "alice", "--secret", builtin.EncodeSecret(seed))
	if err := json.Unmarshal([]byte(out), &factor); err != nil || factor.ID == "" {
		t.Fatalf("factors add: %s", out)
	}
	app := &cli{traces: exp}
	base, _, stop := app.serve(t, "--config", path)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	code := builtin.HOTP(builtin.SHA1, seed, uint64(time.Now().Unix()/30), 6)
	if st := sim.validate("totp", factor.ID, "alice", code); st != "SUCCESS" {
		t.Fatalf("validate: %s", st)
	}
	stop()

	x := exp.spans(t)
	contract := x.one("contract validate")
	x.parent(contract, x.one("POST /v1/providers/emfa/validate"))
	unit := x.one("store.update")
	x.parent(unit, contract)
	if attr(unit, "emfa.status") != "SUCCESS" || attr(contract, "emfa.status") != "SUCCESS" {
		t.Errorf("statuses: unit %v, contract %v", unit.Attributes, contract.Attributes)
	}
	x.noneCarries("alice", code, factor.ID, "sim-password-0123")
}

// Without tracing.endpoint nothing is installed: no tracer, the handler unwrapped, and
// the context of a request carries no span.
func TestTracingOff(t *testing.T) {
	d := &deps{}
	tr, err := d.newTracing(t.Context(), openTestEnv(t, writeConfig(t, "")).cfg.Tracing, nil)
	if err != nil || tr != nil {
		t.Fatalf("tracing off: %v, %v", tr, err)
	}
	if _, ok := tr.TracerProvider().(interface{ ForceFlush() }); ok {
		t.Error("a nil Tracing hands out a recording provider")
	}
	_, span := tr.TracerProvider().Tracer("t").Start(t.Context(), "x")
	if span.IsRecording() || span.SpanContext().IsValid() {
		t.Errorf("span from tracing off: %v", span.SpanContext())
	}
	if trace.SpanFromContext(t.Context()).IsRecording() {
		t.Error("context records")
	}
	// And a serve without it exports nothing even with an exporter at hand.
	exp := newKeptSpans()
	app := &cli{traces: exp}
	base, _, stop := app.serve(t, "--config", writeConfig(t, ""))
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	sim.enrollments("alice")
	stop()
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans with tracing off", n)
	}
}
