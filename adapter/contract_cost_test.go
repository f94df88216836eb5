package adapter

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// costRun is contractRun with the request's context as net/http gives it, a
// cancelable context of its own per request (canceled once answered), so that what the
// adapter derives from it costs what it costs under a real server.
func costRun(tb testing.TB, method, path, body string, log *slog.Logger, hdr ...string) func() int {
	tb.Helper()
	h := newHarness(tb, func(o *Options) {
		o.Log = log
		for _, p := range o.Providers {
			p.Log = log
		}
	})
	h.engine.enrolls = []provider.Enrollment{{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}}}
	handler := h.srv.Handler()
	req, _ := http.NewRequest(method, "http://emfa.test"+path, nil)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("verify", "pw-secret")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	req.RemoteAddr = "127.0.0.1:40000"
	w := &discardWriter{h: http.Header{}}
	rd := strings.NewReader(body)
	base := context.Background()
	return func() int {
		rd.Reset(body)
		ctx, cancel := context.WithCancel(base)
		r := req.WithContext(ctx)
		r.Body = io.NopCloser(rd)
		r.ContentLength = int64(len(body))
		clear(w.h)
		w.status = 0
		costServe(handler, w, r)
		cancel()
		return w.status
	}
}

// costServe is the handler's ServeHTTP, a function of its own for callgrind's
// --toggle-collect: what it counts is the adapter's, the harness's copy and context apart.
//
//go:noinline
func costServe(h http.Handler, w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }

// BenchmarkContract is one contract call through the adapter's whole handler
// (echo, the middleware chain, Basic authentication, the body's decode, the answer) with
// the fake engine answering: what the adapter costs a call beside the engine, with the
// access log discarded and written as JSON at info (emfa's default), with and without a
// caller's X-Request-Id.
func BenchmarkContract(b *testing.B) {
	for _, call := range []struct{ name, path, body string }{
		{"enrollments", "/v1/providers/acme/enrollments", `{"username":"alice"}`},
		{"validate", "/v1/providers/acme/validate", `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`},
	} {
		for _, lg := range []struct {
			name string
			log  *slog.Logger
		}{
			{"discard", slog.New(slog.DiscardHandler)},
			{"json-info", slog.New(slog.NewJSONHandler(io.Discard, nil))},
		} {
			for _, rid := range []bool{false, true} {
				name := call.name + "/" + lg.name + "/rid=none"
				var hdr []string
				if rid {
					name = call.name + "/" + lg.name + "/rid=sent"
					hdr = []string{"X-Request-Id", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
				}
				b.Run(name, func(b *testing.B) {
					run := costRun(b, "POST", call.path, call.body, lg.log, hdr...)
					if st := run(); st != http.StatusOK {
						b.Fatalf("status %d", st)
					}
					b.ReportAllocs()
					for b.Loop() {
						run()
					}
				})
			}
		}
	}
}
