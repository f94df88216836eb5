package adapter

import (
	"cmp"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the inbound-authentication throttle: an address may fail 10 times in a
// row, then once per 6 s (10 a minute) — a 16-character secret is out of reach at that
// rate, and a caller that mistyped a password is not locked out for long.
const (
	throttleBurst   = 10
	throttleEvery   = 6 * time.Second
	throttleEntries = 10000
)

// throttle limits failed authentications per client address, in memory: a token bucket
// per address, holding at most throttleEntries addresses (when full, addresses whose
// budget has refilled are forgotten first, then any). Only failures take tokens, so a
// caller that authenticates never uses up its address's budget; an address whose budget
// is spent has its wrong credentials refused (429) for as long as it takes to earn one
// more attempt — its right ones too when weak secrets are allowed (authenticate says
// why). Each replica keeps its own; the limit is per process.
type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	burst   float64
	every   time.Duration
	max     int
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
	// inflight counts the attempts begun and not yet ended (begin): each holds one of
	// the tokens until its outcome is known.
	inflight int
}

func newThrottle() *throttle { return newBudget(throttleBurst, throttleEvery) }

// newBudget is a throttle of burst attempts per address, one more earned every every.
func newBudget(burst float64, every time.Duration) *throttle {
	return &throttle{now: time.Now, burst: burst, every: every, max: throttleEntries, buckets: map[string]*bucket{}}
}

// refill brings b up to date and reports whether it is full again.
func (t *throttle) refill(b *bucket, now time.Time) bool {
	if now.After(b.at) {
		b.tokens = min(t.burst, b.tokens+float64(now.Sub(b.at))/float64(t.every))
		b.at = now
	}
	return b.tokens >= t.burst
}

// spend decides, in one step, an attempt whose credentials were just checked: false (and
// how long to wait) when the address has no attempt left, whatever the credentials; else
// true, and a guess takes one attempt. Deciding first and spending after the guess was
// looked at let every guess sent at once pass on the same attempts: 30 at once from a fresh address
// were all looked at where 10 may be. A right credential leaves no bucket behind.
func (t *throttle) spend(addr string, guess bool) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b *bucket
	if guess {
		b = t.bucketOf(addr)
	} else {
		var ok bool
		if b, ok = t.buckets[throttleKey(addr)]; !ok {
			return true, 0
		}
		t.refill(b, t.now())
	}
	if free := b.tokens - float64(b.inflight); free < 1 {
		return false, time.Duration((1 + float64(b.inflight) - b.tokens) * float64(t.every))
	}
	if guess {
		b.tokens--
	}
	return true, 0
}

// begin is spend for an attempt whose outcome comes later (a sign-in step that reads
// the store, sends a code, checks one): the attempt holds one of the address's tokens
// until end, so that attempts sent at once cannot each pass on the same token before any
// of them failed. end gives the token back; failed, called before it, takes it for good.
func (t *throttle) begin(addr string) (ok bool, wait time.Duration, end func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(addr)
	if b.tokens-float64(b.inflight) < 1 {
		return false, time.Duration((1 + float64(b.inflight) - b.tokens) * float64(t.every)), func() {}
	}
	b.inflight++
	return true, 0, sync.OnceFunc(func() {
		t.mu.Lock()
		b.inflight--
		t.mu.Unlock()
	})
}

// failed takes one attempt from the address's budget.
func (t *throttle) failed(addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.bucketOf(addr)
	b.tokens = max(0, b.tokens-1)
}

// bucketOf is the address's budget brought up to date, a full one made (room made for
// it) when the address has none; t.mu is held.
func (t *throttle) bucketOf(addr string) *bucket {
	key, now := throttleKey(addr), t.now()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= t.max {
			t.evict(now)
		}
		b = &bucket{tokens: t.burst, at: now}
		t.buckets[key] = b
	}
	t.refill(b, now)
	return b
}

// evict forgets the addresses whose budget has refilled, or, when none has, one at
// random (map order), so the table stays bounded whatever the number of addresses.
func (t *throttle) evict(now time.Time) {
	for k, b := range t.buckets {
		if t.refill(b, now) && b.inflight == 0 {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.max {
			return
		}
		delete(t.buckets, k)
	}
}

// throttleKey is the address a budget belongs to: an IPv6 client is its /64, since one
// host commonly holds a whole /64.
func throttleKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// Defaults of the records of unknown activation links (selfServicePage.linkAudits): an
// address's first 10 are each recorded, then one per 6 minutes (240 a day); the others
// are logged. The page's throttle (Server.signIns) answers 429 past its own budget.
const (
	linkAuditBurst = 10
	linkAuditEvery = 6 * time.Minute
)

// PageBudgets are the self-service page's budgets per client address
// (selfService.throttle); a zero field takes its default. A reload builds a new Server,
// with them, and the addresses' spent budgets start again.
type PageBudgets struct {
	// SignInBurst failed sign-ins (a wrong code, a code or a push sent, an unknown link) in a row,
	// then one more every SignInEvery (Server.signIns). Default 10, one per 6 s.
	SignInBurst int
	SignInEvery time.Duration
	// LinkRecordBurst unknown links recorded, then one more every LinkRecordEvery; the
	// others are logged (selfServicePage.linkAudits). Default 10, one per 6 minutes.
	LinkRecordBurst int
	LinkRecordEvery time.Duration
}

// signIns is the page's throttle of failed sign-ins per address.
func (b PageBudgets) signIns() *throttle {
	return newBudget(float64(cmp.Or(b.SignInBurst, throttleBurst)), cmp.Or(b.SignInEvery, throttleEvery))
}

// linkAudits is the budget of unknown links recorded per address.
func (b PageBudgets) linkAudits() *throttle {
	return newBudget(float64(cmp.Or(b.LinkRecordBurst, linkAuditBurst)), cmp.Or(b.LinkRecordEvery, linkAuditEvery))
}
