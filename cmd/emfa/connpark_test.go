package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
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
