package provider

import "context"

// requestIDKey is the context key of the request id WithRequestID sets.
type requestIDKey struct{}

// WithRequestID is ctx carrying id, the id of the HTTP request being served (the
// X-Request-ID the access log writes). The adapter sets it once for every route; each
// audit record written under ctx carries it — lifecycle's, and the built-in engine's
// device rows, which cannot import lifecycle — so that a row can be joined to the access
// log's line and the address it has.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the request id ctx carries ("" when none: the CLI, the sweeper).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
