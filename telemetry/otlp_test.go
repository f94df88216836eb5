package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/emfa/emfa/internal/testwait"
)

// received is one request as the test collector saw it.
type received struct {
	method, path, contentType, authorization string
	body                                     []byte
}

// collector is a loopback OTLP/HTTP receiver. answer, when set, writes the response to
// the n-th request (from 1); otherwise it answers 200 with no body.
type collector struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newCollector(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *collector {
	t.Helper()
	c := &collector{answer: answer}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("collector: reading the body: %v", err)
		}
		c.mu.Lock()
		c.got = append(c.got, received{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
		n := len(c.got)
		c.mu.Unlock()
		if c.answer != nil {
			c.answer(n, w, r)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *collector) requests() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.got...)
}

// decodeExport parses an ExportTraceServiceRequest by hand: nothing but field 1,
// length-delimited, each a ResourceSpans.
func decodeExport(t *testing.T, b []byte) []*tracepb.ResourceSpans {
	t.Helper()
	var out []*tracepb.ResourceSpans
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		if num != 1 || typ != protowire.BytesType {
			t.Fatalf("field %d of wire type %d in the request, want only 1 (bytes)", num, typ)
		}
		b = b[n:]
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			t.Fatalf("bad resource_spans: %v", protowire.ParseError(m))
		}
		b = b[m:]
		rs := new(tracepb.ResourceSpans)
		if err := proto.Unmarshal(v, rs); err != nil {
			t.Fatalf("resource_spans: %v", err)
		}
		out = append(out, rs)
	}
	return out
}

func attrMap(kvs []*commonpb.KeyValue) map[string]*commonpb.AnyValue {
	m := map[string]*commonpb.AnyValue{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue()
	}
	return m
}

func checkAttrs(t *testing.T, what string, got []*commonpb.KeyValue, want map[string]*commonpb.AnyValue) {
	t.Helper()
	g := attrMap(got)
	if len(g) != len(want) {
		t.Errorf("%s: %d attributes, want %d: %v", what, len(g), len(want), got)
	}
	for k, w := range want {
		if !proto.Equal(g[k], w) {
			t.Errorf("%s: attribute %s = %v, want %v", what, k, g[k], w)
		}
	}
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}
func i64(n int64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: n}}
}
func f64(f float64) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
}
func boolean(b bool) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: b}}
}
func array(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
}

func testExporter(t *testing.T, endpoint string, insecure bool) *otlpExporter {
	t.Helper()
	e, err := newOTLPExporter(endpoint, insecure)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Shutdown(context.Background()) })
	return e
}

// TestOTLPExportSpans sends spans from a real tracer provider, batched as NewTracing
// batches them, and reads back every field from the protobuf the collector received.
func TestOTLPExportSpans(t *testing.T) {
	c := newCollector(t, nil)
	exp := testExporter(t, c.URL+"/v1/traces", false)
	res := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
		attribute.String("service.name", "emfa-test"), attribute.Int64("replica", 3))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	tracer := tp.Tracer("emfa/test", trace.WithInstrumentationVersion("1.2.3"))

	t0 := time.Unix(1_700_000_000, 123_456_789)
	linked := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ctx, parent := tracer.Start(context.Background(), "contract validate",
		trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0),
		trace.WithLinks(trace.Link{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.String("link.why", "retry")}}),
		trace.WithAttributes(
			attribute.Bool("b", true), attribute.Int64("i", -42), attribute.Float64("f", 2.5), attribute.String("s", "x"),
			attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, 2}),
			attribute.Float64Slice("fs", []float64{0.5}), attribute.StringSlice("ss", []string{"a", "b"}),
		))
	parent.AddEvent("decided", trace.WithTimestamp(t0.Add(time.Millisecond)), trace.WithAttributes(attribute.String("emfa.status", "FAILED")))
	parent.SetStatus(codes.Error, "vendor call failed")
	_, child := tracer.Start(ctx, "vendor validate", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(t0.Add(2*time.Millisecond)))
	child.End(trace.WithTimestamp(t0.Add(3 * time.Millisecond)))
	parent.End(trace.WithTimestamp(t0.Add(4 * time.Millisecond)))
	if err := tp.Shutdown(context.Background()); err != nil { // flushes the batch
		t.Fatal(err)
	}

	reqs := c.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/traces" || r.contentType != "application/x-protobuf" {
		t.Errorf("request %s %s (%s), want POST /v1/traces (application/x-protobuf)", r.method, r.path, r.contentType)
	}
	rss := decodeExport(t, r.body)
	if len(rss) != 1 {
		t.Fatalf("%d resource_spans, want 1", len(rss))
	}
	rs := rss[0]
	if rs.GetSchemaUrl() != "https://opentelemetry.io/schemas/1.26.0" {
		t.Errorf("resource schema URL %q", rs.GetSchemaUrl())
	}
	checkAttrs(t, "resource", rs.GetResource().GetAttributes(), map[string]*commonpb.AnyValue{"service.name": str("emfa-test"), "replica": i64(3)})
	if len(rs.GetScopeSpans()) != 1 {
		t.Fatalf("%d scope_spans, want 1", len(rs.GetScopeSpans()))
	}
	ss := rs.GetScopeSpans()[0]
	if ss.GetScope().GetName() != "emfa/test" || ss.GetScope().GetVersion() != "1.2.3" {
		t.Errorf("scope %v", ss.GetScope())
	}
	spans := map[string]*tracepb.Span{}
	for _, s := range ss.GetSpans() {
		spans[s.GetName()] = s
	}
	p, ch := spans["contract validate"], spans["vendor validate"]
	if len(ss.GetSpans()) != 2 || p == nil || ch == nil {
		t.Fatalf("spans %v", ss.GetSpans())
	}

	psc, csc := parent.SpanContext(), child.SpanContext()
	tid, psid, csid := psc.TraceID(), psc.SpanID(), csc.SpanID()
	if string(p.GetTraceId()) != string(tid[:]) || string(p.GetSpanId()) != string(psid[:]) || len(p.GetParentSpanId()) != 0 {
		t.Errorf("parent IDs %x/%x (parent %x), want %x/%x", p.GetTraceId(), p.GetSpanId(), p.GetParentSpanId(), tid[:], psid[:])
	}
	if string(ch.GetTraceId()) != string(tid[:]) || string(ch.GetSpanId()) != string(csid[:]) || string(ch.GetParentSpanId()) != string(psid[:]) {
		t.Errorf("child IDs %x/%x (parent %x), want %x/%x (parent %x)", ch.GetTraceId(), ch.GetSpanId(), ch.GetParentSpanId(), tid[:], csid[:], psid[:])
	}
	if p.GetKind() != tracepb.Span_SPAN_KIND_SERVER || ch.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("kinds %v, %v", p.GetKind(), ch.GetKind())
	}
	if p.GetStartTimeUnixNano() != uint64(t0.UnixNano()) || p.GetEndTimeUnixNano() != uint64(t0.Add(4*time.Millisecond).UnixNano()) ||
		ch.GetStartTimeUnixNano() != uint64(t0.Add(2*time.Millisecond).UnixNano()) || ch.GetEndTimeUnixNano() != uint64(t0.Add(3*time.Millisecond).UnixNano()) {
		t.Errorf("times parent %d–%d, child %d–%d", p.GetStartTimeUnixNano(), p.GetEndTimeUnixNano(), ch.GetStartTimeUnixNano(), ch.GetEndTimeUnixNano())
	}
	checkAttrs(t, "parent", p.GetAttributes(), map[string]*commonpb.AnyValue{
		"b": boolean(true), "i": i64(-42), "f": f64(2.5), "s": str("x"),
		"bs": array(boolean(true), boolean(false)), "is": array(i64(1), i64(2)),
		"fs": array(f64(0.5)), "ss": array(str("a"), str("b")),
	})
	if st := p.GetStatus(); st.GetCode() != tracepb.Status_STATUS_CODE_ERROR || st.GetMessage() != "vendor call failed" {
		t.Errorf("parent status %v", st)
	}
	if st := ch.GetStatus(); st.GetCode() != tracepb.Status_STATUS_CODE_UNSET || st.GetMessage() != "" {
		t.Errorf("child status %v", st)
	}
	if ev := p.GetEvents(); len(ev) != 1 || ev[0].GetName() != "decided" || ev[0].GetTimeUnixNano() != uint64(t0.Add(time.Millisecond).UnixNano()) {
		t.Errorf("events %v", ev)
	} else {
		checkAttrs(t, "event", ev[0].GetAttributes(), map[string]*commonpb.AnyValue{"emfa.status": str("FAILED")})
	}
	ltid, lsid := linked.TraceID(), linked.SpanID()
	if l := p.GetLinks(); len(l) != 1 || string(l[0].GetTraceId()) != string(ltid[:]) || string(l[0].GetSpanId()) != string(lsid[:]) {
		t.Errorf("links %v", l)
	} else {
		checkAttrs(t, "link", l[0].GetAttributes(), map[string]*commonpb.AnyValue{"link.why": str("retry")})
		if l[0].GetFlags() != 0x301 { // sampled, is-remote known, remote
			t.Errorf("link flags %#x", l[0].GetFlags())
		}
	}
	if p.GetFlags() != 0x101 || ch.GetFlags() != 0x101 { // sampled, parent known not remote
		t.Errorf("flags %#x, %#x", p.GetFlags(), ch.GetFlags())
	}
	if p.GetDroppedAttributesCount() != 0 || p.GetDroppedEventsCount() != 0 || p.GetDroppedLinksCount() != 0 {
		t.Errorf("dropped counts %d %d %d", p.GetDroppedAttributesCount(), p.GetDroppedEventsCount(), p.GetDroppedLinksCount())
	}
}

// TestOTLPConvertMore covers what a tracer provider rarely makes: the other kinds, the
// newer attribute types, a trace state, an OK status, dropped counts, several resources
// and scopes, and a nil span (skipped).
func TestOTLPConvertMore(t *testing.T) {
	ts, err := trace.ParseTraceState("emfa=1,other=x")
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceState: ts})
	resA := resource.NewSchemaless(attribute.String("service.name", "a"))
	resB := resource.NewSchemaless(attribute.String("service.name", "b"))
	stubs := tracetest.SpanStubs{
		{Name: "internal", SpanContext: sc, SpanKind: trace.SpanKindInternal, Resource: resA, Status: sdktrace.Status{Code: codes.Ok},
			Attributes: []attribute.KeyValue{
				attribute.ByteSlice("bytes", []byte{0, 1}),
				attribute.Slice("mixed", attribute.IntValue(1), attribute.StringValue("two")),
				attribute.Map("map", attribute.Bool("k", true)),
			},
			DroppedAttributes: 3, DroppedEvents: 4, DroppedLinks: 5},
		{Name: "producer", SpanContext: sc, SpanKind: trace.SpanKindProducer, Resource: resB},
		{Name: "consumer", SpanContext: sc, SpanKind: trace.SpanKindConsumer, Resource: resA},
	}
	stubs[2].InstrumentationScope.Name = "other"
	spans := append(stubs.Snapshots(), nil)
	body, err := encodeSpans(spans)
	if err != nil {
		t.Fatal(err)
	}
	rss := decodeExport(t, body)
	if len(rss) != 2 || len(rss[0].GetScopeSpans()) != 2 || len(rss[1].GetScopeSpans()) != 1 {
		t.Fatalf("grouping: %v", rss)
	}
	if n := attrMap(rss[0].GetResource().GetAttributes())["service.name"].GetStringValue(); n != "a" {
		t.Errorf("first resource %q", n)
	}
	in := rss[0].GetScopeSpans()[0].GetSpans()[0]
	if in.GetKind() != tracepb.Span_SPAN_KIND_INTERNAL || in.GetTraceState() != "emfa=1,other=x" ||
		in.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_OK ||
		in.GetDroppedAttributesCount() != 3 || in.GetDroppedEventsCount() != 4 || in.GetDroppedLinksCount() != 5 {
		t.Errorf("internal span %v", in)
	}
	checkAttrs(t, "internal", in.GetAttributes(), map[string]*commonpb.AnyValue{
		"bytes": {Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 1}}},
		"mixed": array(i64(1), str("two")),
		"map": {Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			{Key: "k", Value: boolean(true)}}}}},
	})
	if k := rss[1].GetScopeSpans()[0].GetSpans()[0].GetKind(); k != tracepb.Span_SPAN_KIND_PRODUCER {
		t.Errorf("producer kind %v", k)
	}
	if s := rss[0].GetScopeSpans()[1]; s.GetScope().GetName() != "other" || s.GetSpans()[0].GetKind() != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("consumer %v", s)
	}
}

// brokenSpan is a ReadOnlySpan whose every method panics.
type brokenSpan struct{ sdktrace.ReadOnlySpan }

func TestOTLPEncodeNeverPanics(t *testing.T) {
	if _, err := encodeSpans([]sdktrace.ReadOnlySpan{brokenSpan{}}); err == nil {
		t.Error("a span that cannot be read encoded without an error")
	}
}

func TestOTLPEndpointURL(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		insecure bool
		want     string
	}{
		{"http://collector:4318", false, "http://collector:4318/v1/traces"},
		{"http://collector:4318/custom/traces", false, "http://collector:4318/custom/traces"},
		{"https://collector:4318", false, "https://collector:4318/v1/traces"},
		{"HTTPS://collector:4318/x", false, "https://collector:4318/x"},
		{"https://collector:4318/x", true, "http://collector:4318/x"}, // as WithInsecure after WithEndpointURL
		{"http://user:hunter2@collector:4318/p?token=hunter2", false, "http://collector:4318/p"},
		{"collector:4318", false, "https://collector:4318/v1/traces"},
		{"collector:4318", true, "http://collector:4318/v1/traces"},
		{"[::1]:4318", true, "http://[::1]:4318/v1/traces"},
	} {
		got, err := otlpEndpointURL(tc.endpoint, tc.insecure)
		if err != nil || got != tc.want {
			t.Errorf("otlpEndpointURL(%q, %v) = %q, %v; want %q", tc.endpoint, tc.insecure, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "http://", "http://user:hunter2@[bad/x"} {
		if _, err := otlpEndpointURL(bad, false); err == nil {
			t.Errorf("otlpEndpointURL(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes the endpoint's password: %v", err)
		}
	}
}

// TestOTLPEndpointForms posts through NewTracing (the batch processor in front of the
// exporter) to each form README documents.
func TestOTLPEndpointForms(t *testing.T) {
	c := newCollector(t, nil)
	hostPort := c.Listener.Addr().String()
	for _, tc := range []struct {
		endpoint string
		insecure bool
		path     string
	}{
		{c.URL + "/custom/traces", false, "/custom/traces"},
		{c.URL, false, "/v1/traces"},
		{hostPort, true, "/v1/traces"},
	} {
		before := len(c.requests())
		tr, err := NewTracing(context.Background(), TracingOptions{Endpoint: tc.endpoint, Insecure: tc.insecure})
		if err != nil {
			t.Fatal(err)
		}
		_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "s")
		span.End()
		if err := tr.Shutdown(context.Background()); err != nil {
			t.Fatalf("%s: %v", tc.endpoint, err)
		}
		reqs := c.requests()[before:]
		if len(reqs) != 1 || reqs[0].path != tc.path {
			t.Fatalf("%s (insecure %v): requests %v, want one to %s", tc.endpoint, tc.insecure, reqs, tc.path)
		}
		rss := decodeExport(t, reqs[0].body)
		if len(rss) != 1 || attrMap(rss[0].GetResource().GetAttributes())["service.name"].GetStringValue() != "emfa" {
			t.Errorf("%s: resource %v", tc.endpoint, rss)
		}
	}
}

func oneSpan() []sdktrace.ReadOnlySpan {
	return tracetest.SpanStubs{{Name: "s", SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled})}}.Snapshots()
}

func TestOTLPRetryAfter(t *testing.T) {
	c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	exp := testExporter(t, c.URL, false)
	exp.backoff = time.Hour // only Retry-After can make the retry come in time
	exp.minDelay = 10 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := exp.ExportSpans(ctx, oneSpan()); err != nil {
		t.Fatal(err)
	}
	reqs := c.requests()
	if len(reqs) != 2 || string(reqs[0].body) != string(reqs[1].body) || len(reqs[1].body) == 0 {
		t.Fatalf("%d requests (want 2, the same body twice)", len(reqs))
	}
}

func TestOTLPRetryBackoff(t *testing.T) {
	statuses := []int{http.StatusTooManyRequests, http.StatusBadGateway, http.StatusGatewayTimeout}
	c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= len(statuses) {
			w.WriteHeader(statuses[n-1])
		}
	})
	exp := testExporter(t, c.URL, false)
	exp.backoff, exp.maxBackoff = time.Millisecond, 2*time.Millisecond
	if err := exp.ExportSpans(context.Background(), oneSpan()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.requests()); n != 4 {
		t.Fatalf("%d requests, want 4", n)
	}
}

// TestOTLPRetryGivesUp: retries end with the export's context, and at once when the
// Retry-After asked for is past its deadline.
func TestOTLPRetryGivesUp(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 2 {
			cancel()
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	exp := testExporter(t, c.URL, false)
	exp.backoff, exp.maxBackoff = time.Millisecond, time.Millisecond
	// The cancel may reach the client before or after the second 503 does.
	if err := exp.ExportSpans(ctx, oneSpan()); err == nil {
		t.Fatal("an export whose context ended succeeded")
	}
	if n := len(c.requests()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}

	c2 := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	exp2 := testExporter(t, c2.URL, false)
	ctx2, cancel2 := context.WithTimeout(context.Background(), time.Minute)
	defer cancel2()
	if err := exp2.ExportSpans(ctx2, oneSpan()); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err %v, want the 429", err)
	}
	if n := len(c2.requests()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// TestOTLPClientError: a 400 is not retried; the error names the status and quotes only
// the start of the answer, and neither the request nor the error carries the endpoint's
// user info.
func TestOTLPClientError(t *testing.T) {
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Secret", "hunter2-header")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad spans "+strings.Repeat("x", 1000)+" hunter2-tail")
	})
	endpoint := strings.Replace(c.URL, "http://", "http://user:hunter2@", 1)
	exp := testExporter(t, endpoint, false)
	exp.backoff = time.Hour
	err := exp.ExportSpans(context.Background(), oneSpan())
	if err == nil || !strings.Contains(err.Error(), "400 Bad Request") || !strings.Contains(err.Error(), "bad spans") {
		t.Fatalf("err %v, want the 400 and the start of the answer", err)
	}
	if strings.Contains(err.Error(), "hunter2") || len(err.Error()) > 300 {
		t.Errorf("the error says too much: %v", err)
	}
	reqs := c.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 (no retry)", len(reqs))
	}
	if reqs[0].authorization != "" {
		t.Errorf("the endpoint's user info was sent: %q", reqs[0].authorization)
	}
}

// TestOTLPPartialSuccess: a 200 whose ExportTraceServiceResponse says spans were
// rejected is an error.
func TestOTLPPartialSuccess(t *testing.T) {
	var ps []byte
	ps = protowire.AppendTag(ps, 1, protowire.VarintType)
	ps = protowire.AppendVarint(ps, 2)
	ps = protowire.AppendTag(ps, 2, protowire.BytesType)
	ps = protowire.AppendString(ps, "too old")
	var resp []byte
	resp = protowire.AppendTag(resp, 1, protowire.BytesType)
	resp = protowire.AppendBytes(resp, ps)
	c := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	})
	exp := testExporter(t, c.URL, false)
	err := exp.ExportSpans(context.Background(), oneSpan())
	if err == nil || !strings.Contains(err.Error(), "rejected 2 spans") || !strings.Contains(err.Error(), "too old") {
		t.Fatalf("err %v, want the partial success", err)
	}

	c2 := newCollector(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), nil)) // empty partial_success
	})
	if err := testExporter(t, c2.URL, false).ExportSpans(context.Background(), oneSpan()); err != nil {
		t.Fatalf("an empty partial success: %v", err)
	}
}

func TestOTLPShutdown(t *testing.T) {
	c := newCollector(t, nil)
	exp := testExporter(t, c.URL, false)
	for range 2 {
		if err := exp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := exp.ExportSpans(context.Background(), oneSpan()); !errors.Is(err, errOTLPShutdown) {
		t.Errorf("export after shutdown: %v", err)
	}
	if n := len(c.requests()); n != 0 {
		t.Errorf("%d requests after shutdown", n)
	}
}

// TestOTLPShutdownInterrupts: Shutdown ends an export waiting on the collector.
func TestOTLPShutdownInterrupts(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	c := newCollector(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	exp := testExporter(t, c.URL, false)
	done := make(chan error, 1)
	go func() { done <- exp.ExportSpans(context.Background(), oneSpan()) }()
	testwait.Recv(t, "the export to reach the collector", arrived)
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := testwait.Recv(t, "the interrupted export to end", done); err == nil {
		t.Error("an interrupted export reported success")
	}
}

// "Retry-After: 0" on every attempt does not make a busy loop: attempts are minDelay apart.
func TestOTLPRetryAfterZeroFloored(t *testing.T) {
	c := newCollector(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	exp := testExporter(t, c.URL, false)
	exp.minDelay = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := exp.ExportSpans(ctx, oneSpan()); err == nil {
		t.Fatal("export succeeded against a collector that always answers 503")
	}
	// 500 ms at least 50 ms apart: 10 attempts at most (a busy loop makes thousands).
	if n := len(c.requests()); n > 11 {
		t.Errorf("%d attempts in 500 ms", n)
	}
}
