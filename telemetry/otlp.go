package telemetry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/emfa/emfa/internal/retryafter"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// The OTLP/HTTP span exporter. It replaces otlptracehttp, whose configuration package
// links the gRPC client (and, through the collector protos, grpc-gateway) into every
// emfa process, tracing on or off. Only the message types of the trace, common and
// resource protos are used; ExportTraceServiceRequest, one repeated field, is written by
// hand so that the collector package (which imports gRPC) stays out.

const (
	otlpTracesPath  = "/v1/traces"
	otlpContentType = "application/x-protobuf"
	otlpTimeout     = 10 * time.Second // per request, otlptracehttp's default
	otlpMaxResponse = 64 << 10         // read of a response body; the rest is discarded
	otlpSnippet     = 128              // bytes of an error answer an error may quote
)

var errOTLPShutdown = errors.New("otlp: exporter is shut down")

// otlpExporter sends spans to an OTLP/HTTP collector, protobuf-encoded, one POST per
// batch. It is an sdktrace.SpanExporter; the batch span processor in front of it decides
// when.
type otlpExporter struct {
	url    string // scheme, host and path only: never user info or a query
	client *http.Client

	// Retries on 429, 502, 503, 504 (and request timeouts): the first after about
	// backoff (or the answer's Retry-After), doubling up to maxBackoff, none once
	// maxElapsed has passed since the first attempt or the export's context has ended.
	backoff, maxBackoff, maxElapsed time.Duration
	// minDelay is the least wait between attempts, whatever Retry-After says: a
	// collector answering "Retry-After: 0" to every attempt is not hammered.
	minDelay time.Duration

	stop     context.Context // done once Shutdown was called: in-flight requests end
	cancel   context.CancelFunc
	shutdown atomic.Bool
}

var _ sdktrace.SpanExporter = (*otlpExporter)(nil)

// otlpEndpointURL is where spans are posted, as otlptracehttp's WithEndpointURL and
// WithEndpoint built it: a URL keeps its host and its path (with none, /v1/traces), and
// is plain HTTP unless its scheme is https; host:port is https, or http when insecure,
// to /v1/traces. Insecure also makes a URL plain HTTP (config refuses https with it).
// User info and a query are dropped, as otlptracehttp dropped them.
func otlpEndpointURL(endpoint string, insecure bool) (string, error) {
	u := url.URL{Path: otlpTracesPath}
	if strings.Contains(endpoint, "://") {
		p, err := url.Parse(endpoint)
		if err != nil { // url.Parse's error quotes the endpoint, which may hold a password
			return "", errors.New("otlp: the tracing endpoint is not a URL")
		}
		if p.Host == "" {
			return "", errors.New("otlp: the tracing endpoint URL has no host")
		}
		u.Host = p.Host
		if p.Path != "" {
			u.Path = p.Path
		}
		insecure = insecure || !strings.EqualFold(p.Scheme, "https")
	} else {
		if endpoint == "" {
			return "", errors.New("otlp: no tracing endpoint")
		}
		u.Host = endpoint
	}
	u.Scheme = "https"
	if insecure {
		u.Scheme = "http"
	}
	return u.String(), nil
}

// newOTLPExporter builds the exporter; it does not connect.
func newOTLPExporter(endpoint string, insecure bool) (*otlpExporter, error) {
	u, err := otlpEndpointURL(endpoint, insecure)
	if err != nil {
		return nil, err
	}
	// A transport of its own, as net/http's default one is configured, so that nothing
	// else in the process that changes http.DefaultTransport changes this one.
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	stop, cancel := context.WithCancel(context.Background())
	return &otlpExporter{
		url:        u,
		client:     &http.Client{Transport: tr, Timeout: otlpTimeout},
		backoff:    5 * time.Second,
		maxBackoff: 30 * time.Second,
		maxElapsed: time.Minute,
		minDelay:   time.Second,
		stop:       stop,
		cancel:     cancel,
	}, nil
}

// ExportSpans posts spans in one request, retrying while the collector says it is busy
// or away, until the request succeeds, fails otherwise, or ctx ends. After Shutdown it
// sends nothing.
func (e *otlpExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	if e.shutdown.Load() {
		return errOTLPShutdown
	}
	body, err := encodeSpans(spans)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(e.stop, cancel)()
	return e.send(ctx, body)
}

// Shutdown stops the exporter: later exports send nothing, one in flight is cancelled.
// It may be called more than once.
func (e *otlpExporter) Shutdown(context.Context) error {
	if e.shutdown.Swap(true) {
		return nil
	}
	e.cancel()
	e.client.CloseIdleConnections()
	return nil
}

// send posts body until it is accepted, refused for good, or the retries run out.
func (e *otlpExporter) send(ctx context.Context, body []byte) error {
	start := time.Now()
	backoff := e.backoff
	for attempt := 1; ; attempt++ {
		retryAfter, err := e.post(ctx, body)
		var rerr retryableError
		if err == nil || !errors.As(err, &rerr) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (gave up after %d attempts: %w)", err, attempt, context.Cause(ctx))
		}
		delay := retryAfter
		if delay < 0 { // no Retry-After: exponential backoff, ±50 %
			delay = backoff/2 + rand.N(backoff+1)
		}
		delay = max(delay, e.minDelay)
		backoff = min(2*backoff, e.maxBackoff)
		if delay > e.maxElapsed-time.Since(start) {
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < delay {
			return fmt.Errorf("%w (gave up after %d attempts: no time left to retry)", err, attempt)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (gave up after %d attempts: %w)", err, attempt, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryableError is a failed attempt worth repeating.
type retryableError struct{ error }

func (e retryableError) Unwrap() error { return e.error }

// post makes one attempt. A retryable failure comes as a retryableError, with the
// answer's Retry-After (-1 when it gave none).
func (e *otlpExporter) post(ctx context.Context, body []byte) (retryAfter time.Duration, err error) {
	retryAfter = -1
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(body))
	if err != nil {
		return retryAfter, fmt.Errorf("otlp: %w", err)
	}
	req.Header.Set("Content-Type", otlpContentType)
	req.Header.Set("User-Agent", "emfa OTLP exporter")
	resp, err := e.client.Do(req)
	if err != nil {
		// The error names the URL: scheme, host and path only.
		err = fmt.Errorf("otlp export: %w", err)
		if ue := (*url.Error)(nil); errors.As(err, &ue) && ue.Timeout() && ctx.Err() == nil {
			return retryAfter, retryableError{err}
		}
		return retryAfter, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, otlpMaxResponse))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, otlpMaxResponse)) // then reuse the connection, if that emptied it

	code := resp.StatusCode
	isProto := false
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == otlpContentType {
		isProto = true
	}
	if code >= 200 && code <= 299 {
		if isProto {
			return retryAfter, partialSuccess(data)
		}
		return retryAfter, nil
	}
	err = fmt.Errorf("otlp export: the collector answered %d %s%s", code, http.StatusText(code), errorSnippet(data, isProto))
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if v := resp.Header.Get("Retry-After"); v != "" {
			retryAfter = -1
			if d, ok := retryafter.Parse(v, time.Now()); ok {
				retryAfter = d
			}
		}
		return retryAfter, retryableError{err}
	}
	return retryAfter, err
}

// partialSuccess reads an ExportTraceServiceResponse (partial_success = 1, with
// rejected_spans = 1 and error_message = 2): an error when the collector dropped spans.
func partialSuccess(b []byte) error {
	ps := protoField(b, 1, protowire.BytesType)
	if ps == nil {
		return nil
	}
	var rejected uint64
	for f := ps; len(f) > 0; {
		num, typ, n := protowire.ConsumeTag(f)
		if n < 0 {
			break
		}
		f = f[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(f)
			if m < 0 {
				break
			}
			rejected = v
		}
		m := protowire.ConsumeFieldValue(num, typ, f)
		if m < 0 {
			break
		}
		f = f[m:]
	}
	msg := protoField(ps, 2, protowire.BytesType)
	if rejected == 0 && len(msg) == 0 {
		return nil
	}
	return &rejectedSpans{n: int64(rejected), msg: quoteSnippet(msg)}
}

// rejectedSpans: the collector took the batch but for n of its spans (OTLP's partial
// success), saying msg; n is 0 where it took them all with a warning.
type rejectedSpans struct {
	n   int64
	msg string
}

func (e *rejectedSpans) Error() string {
	return fmt.Sprintf("otlp export: the collector rejected %d spans%s", e.n, e.msg)
}

// errorSnippet is a short, quoted part of an error answer: the message of a
// google.rpc.Status (message = 2) when it is protobuf, else the body's start.
func errorSnippet(b []byte, isProto bool) string {
	if isProto {
		if msg := protoField(b, 2, protowire.BytesType); msg != nil {
			return quoteSnippet(msg)
		}
	}
	return quoteSnippet(bytes.TrimSpace(b))
}

func quoteSnippet(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	cut := len(b) > otlpSnippet
	if cut {
		b = b[:otlpSnippet]
		for len(b) > 0 && !utf8.Valid(b) { // do not split a character
			b = b[:len(b)-1]
		}
	}
	s := strconv.Quote(string(b))
	if cut {
		s += "…"
	}
	return ": " + s
}

// protoField is the last field num of wire type typ in message b (bytes fields only), or
// nil; b need not be valid past it.
func protoField(b []byte, num protowire.Number, typ protowire.Type) []byte {
	var out []byte
	for len(b) > 0 {
		n, t, l := protowire.ConsumeTag(b)
		if l < 0 {
			return out
		}
		b = b[l:]
		if n == num && t == typ && typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return out
			}
			out = v
			if out == nil {
				out = []byte{}
			}
		}
		m := protowire.ConsumeFieldValue(n, t, b)
		if m < 0 {
			return out
		}
		b = b[m:]
	}
	return out
}

// encodeSpans is the body of an export: ExportTraceServiceRequest, whose only field is
// repeated ResourceSpans resource_spans = 1. A span the conversion cannot read makes an
// error, never a panic in the batch processor's goroutine.
func encodeSpans(spans []sdktrace.ReadOnlySpan) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("otlp: cannot encode the spans: %v", r)
		}
	}()
	opts := proto.MarshalOptions{UseCachedSize: true}
	for _, rs := range resourceSpans(spans) {
		n := opts.Size(rs) // caches the sizes MarshalAppend then uses
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		if b, err = opts.MarshalAppend(b, rs); err != nil {
			return nil, fmt.Errorf("otlp: %w", err)
		}
	}
	return b, nil
}

// resourceSpans groups spans by resource, then by instrumentation scope, in the order
// they first appear.
func resourceSpans(spans []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	type resKey struct {
		attrs  attribute.Distinct
		schema string
	}
	type scopeKey struct {
		res                   resKey
		name, version, schema string
		attrs                 attribute.Distinct
	}
	var out []*tracepb.ResourceSpans
	byRes := map[resKey]*tracepb.ResourceSpans{}
	byScope := map[scopeKey]*tracepb.ScopeSpans{}
	for _, s := range spans {
		if s == nil {
			continue
		}
		res := s.Resource()
		rk := resKey{res.Equivalent(), res.SchemaURL()}
		rs := byRes[rk]
		if rs == nil {
			rs = &tracepb.ResourceSpans{SchemaUrl: res.SchemaURL()}
			if res != nil {
				rs.Resource = &resourcepb.Resource{Attributes: iterKeyValues(res.Iter())}
			}
			byRes[rk] = rs
			out = append(out, rs)
		}
		sc := s.InstrumentationScope()
		sk := scopeKey{rk, sc.Name, sc.Version, sc.SchemaURL, sc.Attributes.Equivalent()}
		ss := byScope[sk]
		if ss == nil {
			ss = &tracepb.ScopeSpans{SchemaUrl: sc.SchemaURL, Scope: &commonpb.InstrumentationScope{
				Name: sc.Name, Version: sc.Version, Attributes: iterKeyValues(sc.Attributes.Iter()),
			}}
			byScope[sk] = ss
			rs.ScopeSpans = append(rs.ScopeSpans, ss)
		}
		ss.Spans = append(ss.Spans, otlpSpan(s))
	}
	return out
}

func otlpSpan(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	st := s.Status()
	out := &tracepb.Span{
		TraceId:                tid[:],
		SpanId:                 sid[:],
		TraceState:             sc.TraceState().String(),
		Name:                   s.Name(),
		Kind:                   otlpKind(s.SpanKind()),
		StartTimeUnixNano:      unixNanos(s.StartTime()),
		EndTimeUnixNano:        unixNanos(s.EndTime()),
		Attributes:             keyValues(s.Attributes()),
		DroppedAttributesCount: clampUint32(s.DroppedAttributes()),
		DroppedEventsCount:     clampUint32(s.DroppedEvents()),
		DroppedLinksCount:      clampUint32(s.DroppedLinks()),
		Status:                 &tracepb.Status{Code: otlpStatusCode(st.Code), Message: st.Description},
	}
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		out.ParentSpanId = psid[:]
	}
	out.Flags = spanFlags(sc.TraceFlags(), parent.IsRemote())
	for _, ev := range s.Events() {
		out.Events = append(out.Events, &tracepb.Span_Event{
			Name:                   ev.Name,
			TimeUnixNano:           unixNanos(ev.Time),
			Attributes:             keyValues(ev.Attributes),
			DroppedAttributesCount: clampUint32(ev.DroppedAttributeCount),
		})
	}
	for _, l := range s.Links() {
		ltid, lsid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out.Links = append(out.Links, &tracepb.Span_Link{
			TraceId:                ltid[:],
			SpanId:                 lsid[:],
			TraceState:             l.SpanContext.TraceState().String(),
			Attributes:             keyValues(l.Attributes),
			DroppedAttributesCount: clampUint32(l.DroppedAttributeCount),
			Flags:                  spanFlags(l.SpanContext.TraceFlags(), l.SpanContext.IsRemote()),
		})
	}
	return out
}

// spanFlags are the W3C trace flags in the low byte, and whether the parent (or linked)
// span was remote, which is always known here.
func spanFlags(tf trace.TraceFlags, remote bool) uint32 {
	f := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if remote {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}

func otlpKind(k trace.SpanKind) tracepb.Span_SpanKind {
	switch k {
	case trace.SpanKindInternal:
		return tracepb.Span_SPAN_KIND_INTERNAL
	case trace.SpanKindServer:
		return tracepb.Span_SPAN_KIND_SERVER
	case trace.SpanKindClient:
		return tracepb.Span_SPAN_KIND_CLIENT
	case trace.SpanKindProducer:
		return tracepb.Span_SPAN_KIND_PRODUCER
	case trace.SpanKindConsumer:
		return tracepb.Span_SPAN_KIND_CONSUMER
	}
	return tracepb.Span_SPAN_KIND_UNSPECIFIED
}

func otlpStatusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

func unixNanos(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}

func clampUint32(n int) uint32 {
	return uint32(min(max(int64(n), 0), math.MaxUint32))
}

func iterKeyValues(it attribute.Iterator) []*commonpb.KeyValue {
	if it.Len() == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, 0, it.Len())
	for it.Next() {
		kv := it.Attribute()
		out = append(out, &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)})
	}
	return out
}

func keyValues(kvs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(kvs))
	for i, kv := range kvs {
		out[i] = &commonpb.KeyValue{Key: string(kv.Key), Value: anyValue(kv.Value)}
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	switch v.Type() {
	case attribute.BOOL:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}}
	case attribute.INT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}}
	case attribute.FLOAT64:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}}
	case attribute.STRING:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v.AsString()}}
	case attribute.BYTESLICE:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}}
	case attribute.BOOLSLICE:
		return arrayValue(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return arrayValue(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return arrayValue(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return arrayValue(v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return arrayValue(v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}}
	case attribute.EMPTY:
		return &commonpb.AnyValue{}
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: "INVALID"}}
}

func arrayValue[T any](vs []T, value func(T) attribute.Value) *commonpb.AnyValue {
	out := make([]*commonpb.AnyValue, len(vs))
	for i, v := range vs {
		out[i] = anyValue(value(v))
	}
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: out}}}
}
