package remote

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// tlsVendor is an HTTP/2-capable TLS vendor on loopback and a CA file that trusts it.
func tlsVendor(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

// Over TLS the vendor is spoken to in HTTP/2 (the transport has a TLS configuration of
// its own, which turns Go's HTTP/2 off unless asked for), and a body the vendor stalls
// there is bounded by the call's timeout as over HTTP/1.1, leaving no goroutine behind.
func TestHTTP2OverTLS(t *testing.T) {
	release := make(chan struct{})
	srv, ca := tlsVendor(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Proto", r.Proto)
		if r.URL.Path == "/stall" {
			w.Header().Set("Content-Length", "10")
			w.Write([]byte("12345"))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Write([]byte(`{"status":"SUCCESS"}`))
	}))
	defer close(release)
	c, err := newClient(&Webhook{Timeout: Duration(200 * time.Millisecond), Authentication: Authentication{MTLS: MTLS{CA: ca}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.do(context.Background(), newRequest(t, srv.URL+"/ok"))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("X-Proto"); got != "HTTP/2.0" {
		t.Errorf("the vendor saw %s, want HTTP/2.0", got)
	}
	before := runtime.NumGoroutine()
	start := time.Now()
	_, err = c.do(context.Background(), newRequest(t, srv.URL+"/stall"))
	if kind := errorKind(err); kind != "timeout" || time.Since(start) > 3*time.Second {
		t.Errorf("stalled body: %v (kind %s) after %v; want a timeout at 200ms", err, kind, time.Since(start))
	}
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the call, %d before", n, before)
	}
}
