package adapter

import (
	"sync"

	"github.com/labstack/echo/v4"
)

// callContext is echo's context for one request with the few values its middleware and
// handlers hand each other (the provider, X-Webhook-ID, the retry flag, the admin's
// name) kept in arrays: echo's own Set made a map, two allocations, on every request
// that set one, and a contract call sets its provider. Past len(keys) values, or for a
// key set on echo's context itself, echo's map is still there.
type callContext struct {
	echo.Context
	n    int
	keys [6]string
	vals [6]any

	// webhookID is the call's X-Webhook-ID (webhookID, callWebhookID), "" when none: a
	// string boxed into vals was an allocation on every initiate, validate and result.
	webhookID string
	// requestID is the request's id (requestID, callRequestID), read back from the
	// answer's headers on every contract call before.
	requestID string
	// requestIDPending: requestID left the id for deadline to put in the request's
	// context, with the deadline's own (one copy of the request).
	requestIDPending bool
}

var callContexts = sync.Pool{New: func() any { return new(callContext) }}

// withCallContext runs next with c wrapped in a callContext, outermost, so that every
// middleware and handler sees the same values; the wrapper goes back to its pool when
// next returns, as echo's context does when its handler has.
func withCallContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		cc := callContexts.Get().(*callContext)
		cc.Context = c
		err := next(cc)
		*cc = callContext{}
		callContexts.Put(cc)
		return err
	}
}

func (c *callContext) Get(key string) any {
	for i := range c.n {
		if c.keys[i] == key {
			return c.vals[i]
		}
	}
	return c.Context.Get(key)
}

func (c *callContext) Set(key string, val any) {
	for i := range c.n {
		if c.keys[i] == key {
			c.vals[i] = val
			return
		}
	}
	if c.n == len(c.keys) {
		c.Context.Set(key, val)
		return
	}
	c.keys[c.n], c.vals[c.n] = key, val
	c.n++
}

// Error is echo's, handing its error handler this context rather than the one wrapped
// (whose values are not the request's).
func (c *callContext) Error(err error) { c.Echo().HTTPErrorHandler(err, c) }
