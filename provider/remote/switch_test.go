package remote

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// switchingVendor answers every request 101 Switching Protocols, as a vendor (or a proxy
// before it) that upgrades a connection no call asked to upgrade, and then holds the
// connection open, saying nothing more, until the test ends. closed receives once per
// connection emfa closed.
func switchingVendor(t *testing.T) (url string, closed <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	gone := make(chan struct{}, 16)
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				r, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, r.Body)
				conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
				read := make(chan struct{})
				go func() { br.ReadByte(); close(read) }() // returns when emfa closes its end
				select {
				case <-read:
					gone <- struct{}{}
				case <-done:
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), gone
}

// settledGoroutines waits (a little) for the goroutine count to fall to at most want.
func settledGoroutines(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// A vendor answering 101 Switching Protocols hung the call past its timeout, for as long
// as the vendor held the connection: the body of a protocol switch is the bare
// connection, which the call's deadline does not reach. No call asks to switch, so the
// answer is refused and its connection closed, within the timeout.
func TestProtocolSwitchRefused(t *testing.T) {
	url, closed := switchingVendor(t)
	var logBuf bytes.Buffer
	e, err := New(Options{
		Webhook: &Webhook{URLs: []string{url}, Timeout: Duration(300 * time.Millisecond),
			Resources: map[string]Resource{"validate": {Suffix: "/v"}}},
		Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
		Log: slog.New(slog.NewTextHandler(&logBuf, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	before := runtime.NumGoroutine()

	type result struct {
		out provider.Outcome
		err error
	}
	got := make(chan result, 1)
	start := time.Now()
	go func() {
		out, err := e.Validate(context.Background(), req("totp", "", "123456"))
		got <- result{out, err}
	}()
	select {
	case r := <-got:
		if r.err != nil || r.out.Status != provider.StatusFailed {
			t.Errorf("validate: %+v, %v; want FAILED", r.out, r.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("validate still waiting after %v; the timeout is 300ms", time.Since(start))
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Error("the switched connection was left open")
	}
	if log := logBuf.String(); !strings.Contains(log, "vendor call failed") || !strings.Contains(log, "101") {
		t.Errorf("log does not say the vendor switched protocols:\n%s", log)
	}
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the call, %d before", n, before)
	}
}

// The token endpoint answering 101 hung the fetch past the token client's timeout, and
// with it every call of the provider after, each waiting for that one fetch: the
// provider answered FAILED until the endpoint let go of the connection.
func TestTokenProtocolSwitchRefused(t *testing.T) {
	url, closed := switchingVendor(t)
	s, stop := newOAuthScheme(OAuth{TokenEndpoint: url + "/token", ClientID: "c", ClientSecret: "s"},
		&http.Transport{}, 300*time.Millisecond)
	t.Cleanup(stop)
	before := runtime.NumGoroutine()
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		start := time.Now()
		_, err := s.tokens.token(ctx)
		waited := ctx.Err() != nil
		cancel()
		if err == nil || waited || time.Since(start) > 3*time.Second {
			t.Fatalf("fetch %d: %v after %v; want the endpoint's answer refused within the 300ms timeout", i, err, time.Since(start))
		}
		if !strings.Contains(err.Error(), "101") {
			t.Errorf("fetch %d: %v; want it to say the endpoint switched protocols", i, err)
		}
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Errorf("fetch %d: the switched connection was left open", i)
		}
	}
	if n := settledGoroutines(before); n > before {
		t.Errorf("%d goroutines after the fetches, %d before", n, before)
	}
}
