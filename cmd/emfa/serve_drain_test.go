package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testwait"
)

// TestDrainAfterAShutdownOutOfTime: serve's end drains the self-service page's
// sign-in sends (live.drain) before its defers close the senders. When the shutdown's
// grace ran out with a request still running, serve returned its error at once, without
// draining: every code the page had answered for and not yet sent then went out, or
// failed, on senders being closed. Now it drains either way, and still says the
// shutdown's error.
func TestDrainAfterAShutdownOutOfTime(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release // a request still running past the shutdown's grace
	})}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	answered := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		answered <- err
	}()
	testwait.Recv(t, "the request to start", entered)
	e := &env{cfg: &config.Config{}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e.cfg.Server.ShutdownTimeout = time.Nanosecond // out of time at once: the request holds on
	drained := 0
	l := &live{}
	l.cur.Store(&snapshot{drain: func(context.Context) error { drained++; return nil }})
	err = e.stopServing(context.Background(), srv, errc, l)
	close(release)
	testwait.Recv(t, "the request to end", answered)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stopServing: %v, want the shutdown's deadline", err)
	}
	if drained != 1 {
		t.Errorf("the page's sends drained %d times after a shutdown out of time, want 1", drained)
	}
}
