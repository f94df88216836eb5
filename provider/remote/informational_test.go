package remote

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// A 1xx other than 101 is not the answer: net/http reads past it to the final response.
// A vendor that sends 102 Processing (or 103, or 199) without end, or slowly, is bounded
// by the response header limit and the call's timeout, so the call FAILED in time; no
// defect found, a guard for the 101 refusal's fellows.
func TestEndlessInformational(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		pause time.Duration // between two 1xx
	}{{"flood", 0}, {"one every 50ms", 50 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer conn.Close()
						r, err := http.ReadRequest(bufio.NewReader(conn))
						if err != nil {
							return
						}
						io.Copy(io.Discard, r.Body)
						for {
							if _, err := conn.Write([]byte("HTTP/1.1 102 Processing\r\nX-Pad: 0123456789\r\n\r\n")); err != nil {
								return
							}
							time.Sleep(tc.pause) // the vendor's pace, not an expiry
						}
					}()
				}
			}()
			e, err := New(Options{Webhook: &Webhook{URLs: []string{"http://" + ln.Addr().String()}, Timeout: Duration(time.Second),
				Resources: map[string]Resource{"validate": {Suffix: "/v"}}}, Provider: "acme", Store: testdb.SQLite(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			start := time.Now()
			out, _ := e.Validate(context.Background(), req("totp", "", "1"))
			if out.Status != provider.StatusFailed {
				t.Errorf("validate: %+v; want FAILED", out)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("the call took %v, past its 1s timeout", took)
			}
		})
	}
}
