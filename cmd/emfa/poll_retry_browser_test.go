package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestPollWaitsOutTransientErrors: in a real browser, a push sign-in whose status
// polls meet a throttle's 429 or a proxy's 502/503 (a restart behind it) keeps waiting,
// rather than submit the page's form at once and say "Not approved yet" though nothing
// went wrong; approved on the phone, it then signs in.
func TestPollWaitsOutTransientErrors(t *testing.T) {
	ctx := browser(t)
	app := &cli{}
	cfg := writeTestConfig(t, "", `delivery:
  mail: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, push]
    engine: builtin
    builtin:
      push: {lifetime: 2m}
selfService:
  enabled: true
  capabilities: [totp, push]
  publicURL: http://127.0.0.1:1
  mail: {sender: mail}
`)
	app.must(t, "users", "add", "alice", "--config", cfg)
	link := strings.TrimPrefix(strings.TrimSpace(app.must(t, "users", "invite", "alice", "--deliver=false", "--config", cfg)), "http://127.0.0.1:1")
	base, logs, _ := app.serve(t, "--config", cfg)

	// The push device, registered through the page's enrollment.
	b := newSSBrowser(t, base)
	b.get(link)
	p := b.post("/self-service/enroll", map[string][]string{"type": {"push"}})
	m := activationRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no activation code:\n%s", p.body)
	}
	state := filepath.Join(t.TempDir(), "device.json")
	app.must(t, "device", "register", "--server", base, "--code", m[1], "--state", state, "--name", "Pixel")

	// A proxy in front of emfa answers the first status polls as a gateway, a proxy
	// whose upstream restarts, and a throttle would, then passes them through. The 502
	// without Retry-After comes first, while the page's backoff is still 2 s: last, it
	// waited the backoff doubled twice, 8 s (polls at 2, 4, 6, 14 and 16 s, not 2 to 10).
	target, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(target)
	transient := []struct {
		status     int
		retryAfter string
	}{{http.StatusBadGateway, ""}, {http.StatusServiceUnavailable, "1"}, {http.StatusTooManyRequests, "1"}}
	var mu sync.Mutex
	polls, continues := 0, 0
	passed := make(chan struct{}) // closed once two polls went through after the errors
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		switch r.URL.Path {
		case "/self-service/signin/status":
			polls++
			if polls <= len(transient) {
				tr := transient[polls-1]
				mu.Unlock()
				if tr.retryAfter != "" {
					w.Header().Set("Retry-After", tr.retryAfter)
				}
				http.Error(w, http.StatusText(tr.status), tr.status)
				return
			}
			if polls == len(transient)+2 {
				close(passed)
			}
		case "/self-service/signin/continue":
			continues++
		}
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	run := browserSteps(t, ctx, logs)
	run("sign in with push", chromedp.Navigate(proxy.URL+"/self-service/"), retry("no #username", chromedp.WaitVisible("#username")),
		chromedp.SendKeys("#username", "alice"), chromedp.Click("#m-push"), chromedp.Click("#next"),
		says("h1", "Approve on your phone"))
	select {
	case <-passed:
	case <-time.After(browserStep):
		mu.Lock()
		t.Fatalf("%d status polls in %s, want %d", polls, browserStep, len(transient)+2)
	}
	mu.Lock()
	early := continues
	mu.Unlock()
	var shown string
	run("still waiting", chromedp.Evaluate(`(document.querySelector("#error")||{}).textContent||""`, &shown))
	if early != 0 || shown != "" {
		t.Fatalf("after transient errors on the status polls, the form was posted %d times and the page says %q, want it still waiting", early, shown)
	}

	var pending struct{ Challenges []struct{ ID string } }
	json.Unmarshal([]byte(app.must(t, "device", "pending", "--state", state)), &pending)
	if len(pending.Challenges) != 1 {
		t.Fatalf("pending: %+v", pending)
	}
	app.must(t, "device", "approve", pending.Challenges[0].ID, "--state", state)
	run("signed in", says("h1", "Your sign-in methods"))
}
