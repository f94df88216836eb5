package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"
)

// TOTP codes for the load generator, computed by hand (RFC 6238 over RFC 4226, SHA1, 6
// digits), and the pool that hands every request a code emfa has not seen yet.
//
// emfa accepts a code of step s for a factor only if s is within the window around the
// current step and above the last step that factor accepted (a replay answers FAILED). So
// a factor yields 2*window+1 successes when first used and then one per period. The pool
// therefore spreads requests over many factors, serialises each factor (two requests of
// one factor in flight could arrive out of order, and the lower step would be a replay),
// and steers clear of the oldest valid step near a step boundary, where emfa's clock may
// already have moved on. When every factor is used up, a worker waits for the next step;
// that time is counted as starvation and reported, since it caps throughput below what
// the server could do.

const (
	totpDigits = 6
	// boundaryMargin: within this of the next step, the oldest step of the window is not
	// used, so a request in flight across the boundary is still inside emfa's window.
	boundaryMargin = time.Second
)

func totpCode(seed []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	mac := hmac.New(sha1.New, seed)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

type totpFactor struct {
	id, user string
	seed     []byte
	last     int64 // the highest step sent; only the worker holding the factor touches it
}

type totpPool struct {
	free    chan *totpFactor
	n       int
	period  int64
	window  int64
	starved atomic.Int64 // nanoseconds workers spent waiting for a fresh step
}

func (p *totpPool) starvedTime() time.Duration { return time.Duration(p.starved.Load()) }

func newTOTPPool(factors []*totpFactor, period, window int) *totpPool {
	p := &totpPool{free: make(chan *totpFactor, len(factors)), n: len(factors), period: int64(period), window: int64(window)}
	for _, f := range factors {
		p.free <- f
	}
	return p
}

// take returns a factor, held until put, and a step whose code emfa will accept.
func (p *totpPool) take(ctx context.Context) (*totpFactor, int64, error) {
	tries := 0
	for {
		var f *totpFactor
		select {
		case f = <-p.free:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		now := time.Now()
		cur := now.Unix() / p.period
		lo := cur - p.window
		if time.Unix((cur+1)*p.period, 0).Sub(now) < boundaryMargin {
			lo++
		}
		step := max(f.last+1, lo)
		if step <= cur+p.window {
			f.last = step
			return f, step, nil
		}
		p.free <- f
		if tries++; tries >= p.n {
			// Every factor is used up until the next step begins.
			began := time.Now()
			t := time.NewTimer(time.Until(time.Unix((cur+1)*p.period, 0)) + 5*time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			p.starved.Add(int64(time.Since(began)))
			if err := ctx.Err(); err != nil {
				return nil, 0, err
			}
			tries = 0
		}
	}
}

func (p *totpPool) put(f *totpFactor) { p.free <- f }
