package adapter

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// writeWait bounds how long a SCIM write without If-Match waits for other writes of the
// same resource, here and on other replicas, before it is answered 503 (Retry-After).
const writeWait = 15 * time.Second

// errBusy answers a write without If-Match that other writes of its resource kept
// overtaking for writeWait: a transient condition, never a 412 for a precondition the
// client did not send.
var errBusy = scimErr(http.StatusServiceUnavailable, "", "the resource is being changed by other writes; send the request again")

// contention paces the attempts of one SCIM write made again because another write of
// its resource came between its read and its write (RFC 7644 §3.14 without If-Match):
// in this process the writes of one resource take turns (writeLocks), so what remains is
// a race with other replicas, which a short, jittered and growing pause settles.
type contention struct {
	c        echo.Context
	deadline time.Time
	tries    int
}

func newContention(c echo.Context) *contention {
	deadline := time.Now().Add(writeWait)
	if d, ok := c.Request().Context().Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return &contention{c: c, deadline: deadline}
}

// wait pauses before the next attempt; errBusy (with Retry-After) when the time is up or
// the client has gone.
func (w *contention) wait() error {
	w.tries++
	d := min(5*time.Millisecond<<min(w.tries, 6), 250*time.Millisecond)
	d = d/2 + rand.N(d/2+1)
	if time.Now().Add(d).After(w.deadline) {
		return w.busy()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-w.c.Request().Context().Done():
		return w.busy()
	}
}

func (w *contention) busy() error {
	w.c.Response().Header().Set(echo.HeaderRetryAfter, "1")
	return errBusy
}

// lock takes the turn of key (a resource) among this process's SCIM writes, waiting no
// longer than w allows; the function it returns gives the turn up.
func (w *contention) lock(l *writeLocks, key string) (func(), error) {
	ctx, cancel := context.WithDeadline(w.c.Request().Context(), w.deadline)
	defer cancel()
	unlock, err := l.lock(ctx, key)
	if err != nil {
		return nil, w.busy()
	}
	return unlock, nil
}

// writeLocks makes this process's SCIM writes of one resource take turns: parallel
// one-member PATCHes of a group (as Entra ID and Okta send them) would otherwise
// overtake one another, each read made stale by another's write.
type writeLocks struct {
	mu sync.Mutex
	m  map[string]*writeLock
}

type writeLock struct {
	turn chan struct{}
	refs int // callers holding or waiting for it: the entry goes with the last
}

func (l *writeLocks) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*writeLock{}
	}
	w := l.m[key]
	if w == nil {
		w = &writeLock{turn: make(chan struct{}, 1)}
		l.m[key] = w
	}
	w.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if w.refs--; w.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case w.turn <- struct{}{}:
		return func() { <-w.turn; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
