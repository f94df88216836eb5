package adapter

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestLyingContentLength: a contract call's body is read into a buffer of the
// length it says it has (530229c); what the header says cannot make emfa allocate it or
// answer anything but a clear 4xx, and a body that is what it says is read whole.
func TestLyingContentLength(t *testing.T) {
	h := newHarness(t, nil) // MaxBodyBytes 1024
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("verify:pw-secret"))
	valid := `{"username":"alice"}`
	padded := `{"username":"alice","pad":"` + strings.Repeat("x", 300-len(`{"username":"alice","pad":""}`)) + `"}`
	for _, c := range []struct {
		name, length, body string
		chunked, halfClose bool
		want               int
	}{
		{name: "as said", length: fmt.Sprint(len(valid)), body: valid, want: 200},
		{name: "as said, 300 bytes", length: "300", body: padded, want: 200},
		{name: "a terabyte said, none sent", length: "1099511627776", want: 413},
		{name: "negative", length: "-5", body: valid, want: 400},
		{name: "shorter than sent", length: "10", body: valid, want: 400},
		{name: "longer than sent", length: "40", body: valid, halfClose: true, want: 400},
		{name: "over the limit, chunked", body: `{"username":"` + strings.Repeat("a", 2000) + `"}`, chunked: true, want: 413},
		{name: "under the limit, chunked", body: valid, chunked: true, want: 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails, it is not waited for
			var req strings.Builder
			fmt.Fprintf(&req, "POST /v1/providers/acme/enrollments HTTP/1.1\r\nHost: emfa.test\r\nAuthorization: %s\r\nContent-Type: application/json\r\nConnection: close\r\n", auth)
			if c.chunked {
				fmt.Fprintf(&req, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(c.body), c.body)
			} else {
				fmt.Fprintf(&req, "Content-Length: %s\r\n\r\n%s", c.length, c.body)
			}
			if _, err := conn.Write([]byte(req.String())); err != nil {
				t.Fatal(err)
			}
			if c.halfClose {
				conn.(*net.TCPConn).CloseWrite()
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}
