package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A keep-alive connection idle for connpark.After is parked (serve's listener, its
// ConnState hook and the gauge wired together), and its next call is answered on it as
// before.
func TestServeParksIdleKeepAliveConnections(t *testing.T) {
	t.Parallel()
	base, _ := startServe(t, writeConfig(t, ""))
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	const body = `{"username":"alice"}`
	enroll := func() {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		req := "POST /v1/providers/emfa/enrollments HTTP/1.1\r\nHost: " + addr +
			"\r\nAuthorization: Basic dmVyaWZ5OnNpbS1wYXNzd29yZC0wMTIz\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n" + body
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("enrollments: %d (close %v) %s", resp.StatusCode, resp.Close, b)
		}
	}
	parked := func() float64 { return scrape(t, base, "")[`emfa_http_connections_parked{listener=server}`] }

	enroll()
	for deadline := time.Now().Add(10 * time.Second); parked() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("emfa_http_connections_parked %v after 10s, want 1", parked())
		}
	}
	enroll()
	if n := parked(); n != 0 {
		t.Errorf("emfa_http_connections_parked %v with the connection back at work, want 0", n)
	}
}

// Under server.tls too: a kept-alive HTTPS connection is parked with its session, and its
// next call on the same connection (no new dial or handshake) still carries the client
// certificate that server.auth.mtls admits.
func TestServeParksIdleTLSConnections(t *testing.T) {
	t.Parallel()
	ca := newPKI(t, "clients CA")
	base, roots, _ := serveMTLS(t, ca, t.TempDir()) // verify_test.go
	cert := ca.issue(t, "verify", 20, false)
	var dials atomic.Int64
	verify := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	defer verify.CloseIdleConnections()
	call := func() {
		t.Helper()
		resp, err := verify.Get(base + "/v1/providers/emfa/test")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("test call: %d %s", resp.StatusCode, b)
		}
	}
	// The gauge, read on connections of their own that are not kept.
	scraper := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
	parked := func() float64 {
		t.Helper()
		resp, err := scraper.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, `emfa_http_connections_parked{listener="server"} `); ok {
				n, _ := strconv.ParseFloat(v, 64)
				return n
			}
		}
		t.Fatalf("no emfa_http_connections_parked{listener=\"server\"} in /metrics")
		return 0
	}

	call()
	for deadline := time.Now().Add(10 * time.Second); parked() != 1; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("emfa_http_connections_parked %v after 10s, want 1", parked())
		}
	}
	call()
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections dialled, want 1: the parked one serves the next call", n)
	}
	if n := parked(); n != 0 {
		t.Errorf("emfa_http_connections_parked %v with the connection back at work, want 0", n)
	}
}

// What reaches the HTTPS listener that is not a request under TLS: a plain-HTTP request
// gets net/http's answer and a warning in the log; a connection that hangs up before a
// byte (a TCP health check) is not warned of. net/http's own errors are JSON under TLS
// too, as on plain HTTP.
func TestServeTLSListenerEdges(t *testing.T) {
	t.Parallel()
	base, roots, log := serveMTLS(t, newPKI(t, "clients CA"), t.TempDir()) // verify_test.go
	addr := strings.TrimPrefix(base, "https://")

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	got, _ := io.ReadAll(c)
	if !strings.Contains(string(got), "400 Bad Request") || !strings.Contains(string(got), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP to the HTTPS listener: %q", got)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log.String(), "TLS handshake failed"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning of the plain-HTTP request:\n%s", log.String())
		}
	}
	if n := strings.Count(log.String(), "TLS handshake failed"); n != 1 || !strings.Contains(log.String(), "client sent an HTTP request to an HTTPS server") {
		t.Errorf("%d handshake warnings, want 1, of the plain-HTTP request:\n%s", n, log.String())
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers over the limit under TLS: %d %q %s, want 431 in JSON", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
}
