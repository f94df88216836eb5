package adapter

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// pageSends runs the deliveries of the page's sign-ins (a code's message, a push's
// notification) and their records after the page has answered (lifecycle.Laters). Sent
// before the answer, a name with such a factor answered a mail server's or an SMS
// gateway's round trip later than a name without: anyone could tell who exists by the
// time of the answer. Now the answer is written once the challenge is started (or, for a
// name without one, nothing is), and the send follows.
//
// At most maxPageSends sign-ins that send run or wait at once: each takes a place before
// it starts, before the name is looked at, and a sign-in that finds none is refused
// (503, nothing started, nothing counted) whatever the name; one that sends nothing (a
// name no one has) gives its place back as it answers. Each send runs with its
// request's values and deadline (provider.RunToEnd), so none outlives the longest a
// request may run; Drain waits for those under way, and for the sign-ins that hold a
// place and may yet hand it a send.
type pageSends struct {
	places chan struct{}
	s      *Server
	// mu guards busy, the places held (a sign-in between take and the end of its last
	// send), and idle, closed when busy falls to 0 (nil while it is 0). A WaitGroup
	// counted the sends alone, from their Run: a sign-in still starting its challenge was
	// not waited for, and its Run racing Drain's Wait at zero was the WaitGroup's misuse.
	mu   sync.Mutex
	busy int
	idle chan struct{}
}

// maxPageSends bounds the page's sends under way: a mail server or a gateway that hangs
// holds each until its request's deadline, and no more than this many.
const maxPageSends = 64

func newPageSends(s *Server) *pageSends {
	return &pageSends{places: make(chan struct{}, maxPageSends), s: s}
}

// sendPlace is a sign-in's place among the page's sends (pageSends.take): its sends run
// on it, and it is given back once the sign-in has answered and its sends are done.
type sendPlace struct {
	q    *pageSends
	ctx  context.Context // the request's
	refs atomic.Int32    // the request, and each send under way
}

var _ lifecycle.Laters = (*sendPlace)(nil)

// take takes a place for a sign-in of the request of ctx, if one is free.
func (q *pageSends) take(ctx context.Context) (*sendPlace, bool) {
	select {
	case q.places <- struct{}{}:
		q.mu.Lock()
		if q.busy == 0 {
			q.idle = make(chan struct{})
		}
		q.busy++
		q.mu.Unlock()
		p := &sendPlace{q: q, ctx: ctx}
		p.refs.Store(1)
		return p, true
	default:
		return nil, false
	}
}

// done is the request's end: the place goes back unless a send still runs on it.
func (p *sendPlace) done() { p.release() }

func (p *sendPlace) release() {
	if p.refs.Add(-1) != 0 {
		return
	}
	q := p.q
	<-q.places // given back before Drain hears of it: a Drain that answered finds it free
	q.mu.Lock()
	if q.busy--; q.busy == 0 {
		close(q.idle)
		q.idle = nil
	}
	q.mu.Unlock()
}

// Run runs job in the background, with the request's values and deadline, without its
// cancellation: the send runs to its end (or its deadline) once the page has answered.
func (p *sendPlace) Run(job func(context.Context)) {
	p.refs.Add(1) // the place, and Drain with it, waits for this send
	ctx, cancel := provider.RunToEnd(p.ctx)
	go func() {
		defer p.release()
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				p.q.s.log.Error("self-service: sign-in delivery panicked", "panic", r)
			}
		}()
		job(ctx)
	}()
}

// Drain waits until the page's sends under way are done, and the sign-ins that hold a
// place (whose sends may yet start) have answered, or ctx ends: serve's end calls it
// before the senders close. Each ends by its request's deadline at the latest.
func (q *pageSends) Drain(ctx context.Context) error {
	q.mu.Lock()
	idle := q.idle
	q.mu.Unlock()
	if idle == nil {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DrainPage waits until the self-service page's sign-in sends under way are done, or
// ctx ends (pageSends); at once without the page.
func (s *Server) DrainPage(ctx context.Context) error {
	if s.pages == nil {
		return nil
	}
	return s.pages.sends.Drain(ctx)
}

// sendPlace takes a place for a sign-in step that sends (pageSends), and marks ctx so
// that its send runs there: the caller defers done. Past the bound, the page's answer
// to every name alike.
func (p *selfServicePage) sendPlace(c echo.Context, ctx context.Context) (_ context.Context, done func(), ok bool, err error) {
	place, ok := p.sends.take(ctx)
	if !ok {
		p.s.log.Warn("self-service sign-in refused: sends under way at their bound", "bound", maxPageSends,
			"remote", c.RealIP(), "request_id", callRequestID(c))
		c.Response().Header().Set(echo.HeaderRetryAfter, "10")
		return ctx, func() {}, false, p.render(c, http.StatusServiceUnavailable, "message", pageData{Title: "Too many sign-ins at once",
			Text: "Too many sign-ins are under way right now: try again in a few seconds."})
	}
	return lifecycle.WithLaters(ctx, place), place.done, true, nil
}
