package adapter

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves; nothing sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// from sends an enrollments call from peer with the given password.
func (h *harness) from(t *testing.T, peer, password string) (int, http.Header) {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"a"}`))
	req.RemoteAddr = peer + ":4000"
	req.SetBasicAuth("verify", password)
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Header()
}

// TestAuthThrottle is issue 15 item 4: repeated 401s from one address are throttled, so a
// password cannot be guessed at line rate; a caller with the right password never spends
// its address's budget, and other addresses are not affected. With weak secrets allowed
// (the harness's password is 9 characters), a throttled address is refused whatever its
// credentials were.
func TestAuthThrottle(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Auth.WeakSecrets = true })
	clk := &fakeClock{t: time.Unix(1767225600, 0)}
	h.srv.throttle.now = clk.Now
	const guesser, verify = "198.51.100.66", "192.0.2.1"

	// A correct caller is never counted: any number of successes leave the budget whole.
	for range 50 {
		if code, _ := h.from(t, guesser, "pw-secret"); code != 200 {
			t.Fatalf("correct caller: %d", code)
		}
	}
	for i := range throttleBurst {
		if code, _ := h.from(t, guesser, fmt.Sprintf("guess-%d", i)); code != 401 {
			t.Fatalf("guess %d: %d, want 401 within the budget", i, code)
		}
	}
	code, hdr := h.from(t, guesser, "guess-x")
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "6" {
		t.Errorf("over budget: %d Retry-After %q, want 429 and 6", code, hdr.Get("Retry-After"))
	}
	// Refused before the credentials are looked at: even the right password waits, so a
	// guess cannot be confirmed while throttled.
	if code, _ := h.from(t, guesser, "pw-secret"); code != http.StatusTooManyRequests {
		t.Errorf("right password from a throttled address: %d, want 429", code)
	}
	// Another address — Verify's — is not slowed at all.
	for range 20 {
		if code, _ := h.from(t, verify, "pw-secret"); code != 200 {
			t.Fatalf("Verify while another address is throttled: %d", code)
		}
	}
	// One attempt is earned per 6 s; a minute refills the whole budget.
	clk.Advance(5 * time.Second)
	if code, _ := h.from(t, guesser, "guess-y"); code != http.StatusTooManyRequests {
		t.Errorf("after 5 s: %d, want 429", code)
	}
	clk.Advance(time.Second)
	if code, _ := h.from(t, guesser, "guess-z"); code != 401 {
		t.Errorf("after 6 s: %d, want one more attempt (401)", code)
	}
	if code, _ := h.from(t, guesser, "guess-z2"); code != http.StatusTooManyRequests {
		t.Errorf("second attempt after 6 s: %d, want 429", code)
	}
	clk.Advance(time.Minute)
	if code, _ := h.from(t, guesser, "pw-secret"); code != 200 {
		t.Errorf("after a minute: %d, want the right password admitted", code)
	}
	// One IPv6 /64 is one budget.
	for i := range throttleBurst {
		h.from(t, fmt.Sprintf("[2001:db8:1:2::%x]", i+1), "wrong")
	}
	if code, _ := h.from(t, "[2001:db8:1:2::ffff]", "wrong"); code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: %d, want 429", code)
	}
	if strings.Contains(h.logs.String(), "guess-") || strings.Contains(h.logs.String(), "pw-secret") {
		t.Error("a password reached the log")
	}
	if !strings.Contains(h.logs.String(), `"msg":"inbound authentication throttled"`) {
		t.Error("throttling is not logged")
	}
}

// TestThrottleBounded: the limiter holds at most its maximum of addresses.
func TestThrottleBounded(t *testing.T) {
	th := newThrottle()
	clk := &fakeClock{t: time.Unix(1767225600, 0)}
	th.now, th.max = clk.Now, 100
	for i := range 1000 {
		th.failed(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		if len(th.buckets) > th.max {
			t.Fatalf("%d addresses kept, max %d", len(th.buckets), th.max)
		}
	}
	// Addresses whose budget has refilled are the first forgotten.
	clk.Advance(time.Hour)
	th.failed("192.0.2.1")
	if len(th.buckets) != 1 {
		t.Errorf("%d addresses kept after every budget refilled, want 1", len(th.buckets))
	}
}

// send sends an enrollments call from peer with the given headers (name, value, …).
func (h *harness) send(t *testing.T, peer string, hdr ...string) (int, http.Header) {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/providers/acme/enrollments", strings.NewReader(`{"username":"a"}`))
	req.RemoteAddr = peer + ":4000"
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Header()
}

// TestAuthThrottleAdmitsRightCredentials: secrets that cannot be guessed (the 16
// characters or more emfa's check demands) are checked before the throttle, so a guesser
// sharing Verify's address (a SaaS egress, a proxy) does not lock Verify out; the guesser's
// next tries are refused 429 all the same, right or wrong alike in what they say.
func TestAuthThrottleAdmitsRightCredentials(t *testing.T) {
	const pw, key = "pw-secret-0123456789", "key-secret-0123456789"
	h := newHarness(t, func(o *Options) {
		o.Auth = Auth{BasicUsername: "verify", BasicPassword: pw, HeaderName: "X-Api-Key", HeaderValue: key}
	})
	clk := &fakeClock{t: time.Unix(1767225600, 0)}
	h.srv.throttle.now = clk.Now
	const shared, other = "198.51.100.66", "192.0.2.1"
	basic := func(pw string) string {
		req := httptest.NewRequest("GET", "/", nil)
		req.SetBasicAuth("verify", pw)
		return req.Header.Get("Authorization")
	}

	codes := map[int]int{}
	for i := range throttleBurst + 2 {
		code, _ := h.send(t, shared, "Authorization", basic(fmt.Sprintf("wrong-%d", i)))
		codes[code]++
	}
	if codes[401] != throttleBurst || codes[429] != 2 {
		t.Fatalf("12 wrong passwords: %v, want %d × 401 and 2 × 429", codes, throttleBurst)
	}
	for name, hdr := range map[string][]string{
		"right password": {"Authorization", basic(pw)},
		"right header":   {"X-Api-Key", key},
	} {
		if code, _ := h.send(t, shared, hdr...); code != 200 {
			t.Errorf("%s from the throttled address: %d, want 200", name, code)
		}
	}
	// The right ones gave the address nothing back: wrong ones are still refused, 429
	// with Retry-After, whatever kind.
	for name, hdr := range map[string][]string{
		"wrong password": {"Authorization", basic("wrong-x")},
		"wrong header":   {"X-Api-Key", "key-secret-x"},
		"none":           nil,
	} {
		if code, got := h.send(t, shared, hdr...); code != http.StatusTooManyRequests || got.Get("Retry-After") != "6" {
			t.Errorf("%s from the throttled address: %d Retry-After %q, want 429 and 6", name, code, got.Get("Retry-After"))
		}
	}
	if code, _ := h.send(t, other, "Authorization", basic("wrong-y")); code != 401 {
		t.Errorf("a wrong password from another address: %d, want 401", code)
	}
	clk.Advance(throttleEvery)
	if code, _ := h.send(t, shared, "Authorization", basic("wrong-z")); code != 401 {
		t.Errorf("after 6 s: %d, want one more attempt (401)", code)
	}
}

// TestThrottleBegin: an attempt begun holds one of the address's tokens until it ends;
// ended without a failure it gives it back (once, however often end is called); a
// failure recorded while it runs keeps it taken. An address with attempts under way is
// not forgotten to make room.
func TestThrottleBegin(t *testing.T) {
	th := newBudget(3, time.Minute)
	clk := &fakeClock{t: time.Unix(1767225600, 0)}
	th.now = clk.Now
	var ends []func()
	for range 3 {
		ok, _, end := th.begin("198.51.100.7")
		if !ok {
			t.Fatal("an attempt within the budget refused")
		}
		ends = append(ends, end)
	}
	if ok, wait, _ := th.begin("198.51.100.7"); ok || wait <= 0 {
		t.Errorf("a fourth attempt while three run: %v, wait %v", ok, wait)
	}
	if ok, _ := th.spend("198.51.100.7", false); ok {
		t.Error("spend ignores the attempts under way")
	}
	ends[0]()
	ends[0]() // again: nothing more given back
	th.failed("198.51.100.7")
	ends[1]()
	// 3 tokens, 1 failure, 1 attempt still under way: one more may begin, not two.
	if ok, _, _ := th.begin("198.51.100.7"); !ok {
		t.Error("an attempt refused with a token free")
	}
	if ok, _, _ := th.begin("198.51.100.7"); ok {
		t.Error("an attempt admitted with no token free")
	}
	th.max = 2 // evict makes room below it: addresses refilled first, those under way kept
	th.evict(clk.Now().Add(time.Hour))
	if len(th.buckets) != 1 {
		t.Error("an address with attempts under way forgotten while its budget refilled")
	}
}
