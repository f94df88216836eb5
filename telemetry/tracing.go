package telemetry

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracingOptions configure OpenTelemetry tracing (config.Tracing, and what serve adds).
type TracingOptions struct {
	// Endpoint is the OTLP/HTTP collector: http(s)://host:port[/path] (no path:
	// /v1/traces) or host:port (https, or http when Insecure, to /v1/traces).
	Endpoint    string
	Insecure    bool
	SampleRatio float64 // of new traces; 0 means 1. A sampled caller is always followed.
	ServiceName string  // default emfa
	Version     string
	// Exporter, when set, receives the spans instead of an OTLP endpoint (tests), synchronously.
	Exporter sdktrace.SpanExporter
	// Log, when set, is where a failed export is said (exportReporter, exportlog.go), at
	// most once a minute, rather than OpenTelemetry's global error handler.
	Log *slog.Logger
}

// Tracing is one server's tracer provider. The HTTP server's handler and the vendor
// clients' transports are wrapped with it; the spans emfa's own packages start (contract
// call, store unit, vendor call, CEL transform) take it from the context, so nothing
// else is wired. A nil *Tracing traces nothing: Handler and Transport return what they
// are given.
//
// No attribute carries what a caller or a vendor chose: the instrumented HTTP spans see a
// path reduced to the route it matches (url.path, url.full have no user name, factor ID
// or query), and emfa's own spans carry only the provider prefix, resource, capability
// and outcome.
type Tracing struct {
	tp   *sdktrace.TracerProvider
	prop propagation.TextMapPropagator
}

// NewTracing builds the tracer provider. It does not connect: spans are exported in
// batches in the background (otlpExporter, otlp.go), and an unreachable collector only
// loses them.
func NewTracing(ctx context.Context, o TracingOptions) (*Tracing, error) {
	exp := o.Exporter
	if exp == nil {
		otlp, err := newOTLPExporter(o.Endpoint, o.Insecure) // otlp.go
		if err != nil {
			return nil, err
		}
		exp = otlp
	}
	if o.Log != nil {
		exp = newExportReporter(exp, o.Log) // exportlog.go
	}
	var sp sdktrace.SpanProcessor
	if o.Exporter != nil {
		sp = sdktrace.NewSimpleSpanProcessor(exp)
	} else {
		sp = sdktrace.NewBatchSpanProcessor(exp)
	}
	ratio := o.SampleRatio
	if ratio <= 0 {
		ratio = 1
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cmp.Or(o.ServiceName, "emfa")),
		attribute.String("service.version", o.Version),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(res),
	)
	return &Tracing{tp: tp, prop: boundedTraceContext{}}, nil
}

// maxTraceState and maxTraceStateEntry are the sizes W3C trace context lets a receiver
// cut a tracestate to (§3.3.1.5): 512 characters, entries over 128 dropped first.
const (
	maxTraceState      = 512
	maxTraceStateEntry = 128
)

// boundedTraceContext is W3C trace context whose caller's tracestate is kept to
// maxTraceState characters: entries longer than maxTraceStateEntry are dropped, then
// entries from the end until the rest fits. A caller, authenticated or not, chooses it,
// up to 32 entries of 256-character keys and values; kept whole, its 16 KiB would ride in
// every span of the request, the span queue, every export and every vendor call.
type boundedTraceContext struct{ propagation.TraceContext }

func (p boundedTraceContext) Extract(ctx context.Context, carrier propagation.TextMapCarrier) context.Context {
	ctx = p.TraceContext.Extract(ctx, carrier)
	if len(carrier.Get("tracestate")) <= maxTraceState {
		return ctx // what it parsed is no longer
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ctx
	}
	type entry struct{ key, value string }
	var kept []entry
	size := -1 // no comma before the first
	sc.TraceState().Walk(func(k, v string) bool {
		n := len(k) + 1 + len(v)
		if n > maxTraceStateEntry {
			return true
		}
		if size+1+n > maxTraceState {
			return false // this one and those after it
		}
		kept = append(kept, entry{k, v})
		size += 1 + n
		return true
	})
	var ts trace.TraceState
	for _, e := range slices.Backward(kept) { // Insert puts an entry first
		ts, _ = ts.Insert(e.key, e.value) // valid: ParseTraceState read it
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc.WithTraceState(ts))
}

// SetGlobal makes t's provider and W3C trace context the process-wide defaults, for
// instrumentation that reads them.
func (t *Tracing) SetGlobal() {
	if t != nil {
		otel.SetTracerProvider(t.tp)
		otel.SetTextMapPropagator(t.prop)
	}
}

// Shutdown flushes the spans not exported yet and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// TracerProvider is t's provider, or a no-op one for a nil t.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if t == nil {
		return noop.NewTracerProvider()
	}
	return t.tp
}

// asSentKey carries the request as it arrived past otelhttp, which sees a copy whose
// path is only its route and which says nothing else a caller chose (spanSafeRequest).
type asSentKey struct{}

// forwarding are the headers with which a caller may name another client than itself.
var forwarding = []string{"X-Forwarded-For", "Forwarded", "X-Real-Ip"}

// spanMethods are the methods a span names as they are; otelhttp records any other as
// _OTHER, with the method as sent in http.request.method_original, which a caller
// chooses.
var spanMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace}

// Handler wraps h with a server span per request (otelhttp), continuing a caller's W3C
// trace context. The span's name and url.path are what route says of the request (the
// route it matches, which only the handler's router and configuration know: the adapter's
// SpanRoute), never the path as sent: a caller, authenticated or not, could otherwise
// make up a span name a request, and a path may name a user, a factor or a device. With
// a nil route every path is /…. Nothing else the caller wrote reaches the span either
// (spanSafeRequest): its client.address is the socket's peer, its server.address the
// socket's local address, and it has no user agent. h gets the request as sent.
func (t *Tracing) Handler(h http.Handler, route func(*http.Request) string) http.Handler {
	if t == nil {
		return h
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if orig, ok := r.Context().Value(asSentKey{}).(*http.Request); ok {
			body := r.Body                    // otelhttp's, which counts what is read
			r = orig.WithContext(r.Context()) // the request as sent, in the span's context
			r.Body = body
		}
		h.ServeHTTP(w, r)
	})
	oh := otelhttp.NewHandler(inner, "emfa",
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if !slices.Contains(spanMethods, r.Method) {
				return "HTTP " + r.URL.Path
			}
			return r.Method + " " + r.URL.Path
		}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		spanPath := "/…"
		if route != nil {
			spanPath = route(r)
		}
		oh.ServeHTTP(w, spanSafeRequest(r, spanPath))
	})
}

// spanSafeRequest is the copy of r that otelhttp sees, which makes the server span's
// name and attributes of it: its path is spanPath, with no query; its Host the socket's
// local address, not the Host header (server.address); it has no User-Agent
// (user_agent.original) and no header that names a forwarded client (otelhttp would take
// the first X-Forwarded-For from anyone for client.address; server.trustedProxies
// decides whom emfa believes, in its logs and throttle); a method of the caller's own
// making is _OTHER. Each of these is the caller's to choose, and would let it mint
// attribute values without bound. The original rides in the context, for h.
func spanSafeRequest(r *http.Request, spanPath string) *http.Request {
	local := ""
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		local = la.String()
	}
	forwarded := slices.ContainsFunc(forwarding, func(k string) bool { return r.Header.Get(k) != "" })
	agent := r.Header.Get("User-Agent") != ""
	method := r.Method
	if !slices.Contains(spanMethods, method) {
		method = "_OTHER"
	}
	if spanPath == r.URL.Path && r.URL.RawPath == "" && r.URL.RawQuery == "" && !forwarded && !agent &&
		r.Host == local && method == r.Method {
		return r
	}
	c := r.WithContext(context.WithValue(r.Context(), asSentKey{}, r))
	u := *r.URL
	u.Path, u.RawPath, u.RawQuery = spanPath, "", ""
	c.URL, c.Host, c.Method = &u, local, method
	if forwarded || agent {
		c.Header = r.Header.Clone()
		for _, k := range forwarding {
			c.Header.Del(k)
		}
		c.Header.Del("User-Agent")
	}
	return c
}

// routeKey carries a vendor call's URL past otelhttp, which sees a copy of the request
// whose URL is only the vendor's scheme and host.
type routeKey struct{}

// Transport wraps a vendor client's transport with a client span per attempt (otelhttp),
// which injects the W3C traceparent header. The span's url.full is the vendor's scheme
// and host only: the path and query a transform built may carry a user name.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if t == nil {
		return rt
	}
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if orig, ok := r.Context().Value(routeKey{}).(*url.URL); ok {
			r.URL = orig // r is otelhttp's own copy
		}
		resp, err := rt.RoundTrip(r)
		if err != nil {
			// otelhttp puts an error's text in the span's status; a transport's names
			// hosts, addresses and certificates. The span gets a fixed one; the caller
			// gets the error itself back, below.
			err = spanSafe{err}
		}
		return resp, err
	})
	ot := otelhttp.NewTransport(inner, otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.prop),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return "HTTP " + r.Method }))
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		u := &url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host}
		r2 := r.WithContext(context.WithValue(r.Context(), routeKey{}, r.URL))
		r2.URL = u
		resp, err := ot.RoundTrip(r2)
		if s := (spanSafe{}); errors.As(err, &s) {
			err = s.err
		}
		return resp, err
	})
}

// spanSafe is a vendor call's error as a span may say it.
type spanSafe struct{ err error }

func (spanSafe) Error() string   { return "vendor call failed" }
func (s spanSafe) Unwrap() error { return s.err }

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
