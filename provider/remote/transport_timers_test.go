package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestVendorCallTimers bounds what one vendor call through the provider's real
// transport allocates (loopback, the vendor's answer included), with the webhook's
// timeout (duo.yaml's 5s) and a caller's deadline within it, as send hands it. The
// transport's ResponseHeaderTimeout started a timer of its own on every call (a Timer, its
// channel, and the timer heap's work), which could never fire: each call's context
// carries a deadline within the same timeout (do, send; the OAuth token client's
// Timeout), set before the request is written, whereas the header timer starts after it.
func TestVendorCallTimers(t *testing.T) {
	srv, c := loopbackVendor(t, `{"stat":"OK","response":{"devices":[]}}`)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	req := newRequest(t, srv.URL+"/auth/v2/preauth")
	run := func() {
		resp, err := c.do(ctx, req)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("do: %v %v", resp, err)
		}
	}
	run()
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	got := testing.AllocsPerRun(2000, run)
	t.Logf("%v allocations a vendor call (client and loopback server)", got)
	if got > 70 {
		t.Errorf("a vendor call allocates %v times, want at most 70 (no response-header timer)", got)
	}
}

// loopbackVendor is a vendor on loopback that answers every call with the JSON answer,
// and a client with duo.yaml's timeout (5s) through the provider's real transport; both
// closed when the test ends.
func loopbackVendor(tb testing.TB, answer string) (*httptest.Server, *client) {
	tb.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(answer))
	}))
	tb.Cleanup(srv.Close)
	c, err := newClient(&Webhook{Timeout: Duration(5 * time.Second)}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return srv, c
}
