package remote

import (
	"cmp"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"
)

// rotation spreads calls over a webhook's base URLs in turn and passively ejects a URL
// that keeps failing: after `after` failures in a row it sits out `coolDown`, then comes
// back. A URL back from a cool-down that fails again is ejected at once (its failure count
// is only reset by a success). When every URL is ejected all are used anyway: trying a
// vendor that may have recovered beats failing every login closed.
//
// next and report take no lock: they run on every vendor call.
type rotation struct {
	urls     []*url.URL
	state    []urlState
	counter  atomic.Uint64
	after    int64
	coolDown time.Duration
	now      func() time.Time
}

type urlState struct {
	fails        atomic.Int64
	ejectedUntil atomic.Int64 // unix nanoseconds; 0 when in the rotation
}

// newRotation parses the base URLs (validated already by Webhook.Validate) and applies
// DefaultEjectAfter and DefaultEjectFor to unset limits.
func newRotation(raw []string, after int, coolDown time.Duration) (*rotation, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("urls: none")
	}
	r := &rotation{
		urls:     make([]*url.URL, len(raw)),
		state:    make([]urlState, len(raw)),
		after:    int64(cmp.Or(after, DefaultEjectAfter)),
		coolDown: cmp.Or(coolDown, DefaultEjectFor),
		now:      time.Now,
	}
	for i, s := range raw {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("urls[%d]: %w", i, err)
		}
		r.urls[i] = u
	}
	return r, nil
}

// next is the base URL for the next call. Callers must not modify it.
func (r *rotation) next() *url.URL {
	n := uint64(len(r.urls))
	start := r.counter.Add(1) - 1
	now := r.now().UnixNano()
	for i := range n {
		j := (start + i) % n
		if until := r.state[j].ejectedUntil.Load(); until == 0 || now >= until {
			return r.urls[j]
		}
	}
	return r.urls[start%n]
}

// report records the outcome of a call to u, as returned by next: ok false for a
// connection error, a timeout or a 5xx.
func (r *rotation) report(u *url.URL, ok bool) {
	for i, v := range r.urls {
		if v != u {
			continue
		}
		s := &r.state[i]
		if ok {
			s.fails.Store(0)
			s.ejectedUntil.Store(0)
		} else if s.fails.Add(1) >= r.after {
			s.ejectedUntil.Store(r.now().Add(r.coolDown).UnixNano())
		}
		return
	}
}
