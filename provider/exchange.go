package provider

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Exchange is one call an engine made to a vendor while serving a Verify call, kept so a
// transaction can be recorded as a transcript.
type Exchange struct {
	Time           time.Time
	Method         string
	URL            *url.URL
	RequestHeader  http.Header
	RequestBody    []byte
	Status         int // 0 when no answer came
	ResponseHeader http.Header
	ResponseBody   []byte
}

// Exchanges collects the vendor exchanges of one Verify call.
type Exchanges struct {
	mu   sync.Mutex
	list []Exchange
}

type exchangesKey struct{}

// WithExchanges returns a context whose engines record their vendor exchanges in the
// returned collector.
func WithExchanges(ctx context.Context) (context.Context, *Exchanges) {
	x := &Exchanges{}
	return context.WithValue(ctx, exchangesKey{}, x), x
}

// Recording reports whether ctx collects exchanges, so engines copy nothing otherwise.
func Recording(ctx context.Context) bool {
	_, ok := ctx.Value(exchangesKey{}).(*Exchanges)
	return ok
}

// RecordExchange adds e to ctx's collector, if it has one.
func RecordExchange(ctx context.Context, e Exchange) {
	if x, ok := ctx.Value(exchangesKey{}).(*Exchanges); ok {
		x.mu.Lock()
		x.list = append(x.list, e)
		x.mu.Unlock()
	}
}

// List returns the exchanges recorded so far.
func (x *Exchanges) List() []Exchange {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]Exchange(nil), x.list...)
}
