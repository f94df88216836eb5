package adapter

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOptionsRefused: OPTIONS was answered 204 without authentication on every route.
func TestOptionsRefused(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{"/v1/providers/acme/enrollments", "/v1/providers/acme/test", "/healthz"} {
		code, body, hdr := h.do(t, "OPTIONS", path, "", "X-None", "1")
		if code != http.StatusMethodNotAllowed || errorID(t, body) != "method_not_allowed" || strings.Contains(hdr.Get("Allow"), "OPTIONS") {
			t.Errorf("OPTIONS %s: %d %s (Allow %q)", path, code, body, hdr.Get("Allow"))
		}
	}
	if code, body, _ := h.do(t, "OPTIONS", "/nowhere", "", "X-None", "1"); code != http.StatusNotFound || errorID(t, body) != "not_found" {
		t.Errorf("OPTIONS on no route: %d %s", code, body)
	}
}

// TestServerErrorsAreJSON: the answers net/http writes before any handler runs — 431 for
// oversized headers, 400 for an unparsable request — are JSON like every other error.
func TestServerErrorsAreJSON(t *testing.T) {
	h := newHarness(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h.srv.Handler(), MaxHeaderBytes: MaxHeaderBytes, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(JSONErrors(ln))
	t.Cleanup(func() { srv.Close() })

	raw := func(req string) (*http.Response, string) {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go io.WriteString(c, req) // the server may answer before it has read everything
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range []struct {
		name, req string
		status    int
		id        string
	}{
		{"oversized header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes+8<<10) + "\r\n\r\n", 431, "header_too_large"},
		{"malformed host", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "invalid_request"},
		{"missing host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "invalid_request"},
		{"unknown transfer encoding", "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: zip\r\n\r\n", 501, "error"},
	} {
		resp, body := raw(c.req)
		var eb errorBody
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" ||
			json.Unmarshal([]byte(body), &eb) != nil || eb.MessageID != c.id || eb.MessageDescription == "" {
			t.Errorf("%s: %d %q %s", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	// A handler's answer passes through untouched.
	resp, body := raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp.StatusCode != 200 || body != "{\"status\":\"ok\"}\n" {
		t.Errorf("healthz through the wrapper: %d %q", resp.StatusCode, body)
	}
}
