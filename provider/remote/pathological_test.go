package remote

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// Vendors that misbehave as the brief's list has it, through the whole engine: each
// validate answers FAILED within the webhook's timeout (300ms) or at the body limit, logs
// the kind of fault, and leaves no goroutine behind once the engine is closed.
func TestPathologicalVendors(t *testing.T) {
	release := make(chan struct{})
	wait := func(r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server sees emfa hang up (its context ends)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/silent/v", func(w http.ResponseWriter, r *http.Request) { wait(r) })
	mux.HandleFunc("/stall/v", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write([]byte(`{"status":`))
		w.(http.Flusher).Flush()
		wait(r)
	})
	mux.HandleFunc("/trickle/v", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		for _, c := range []byte(`{"status":"SUCCESS"}`) {
			if _, err := w.Write([]byte{c}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-time.After(100 * time.Millisecond):
			case <-r.Context().Done():
				return
			case <-release:
				return
			}
		}
	})
	gib := func(announce bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if announce {
				w.Header().Set("Content-Length", "1073741824")
			}
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for written := 0; written < 1<<30; written += len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}
	}
	mux.HandleFunc("/gib-announced/v", gib(true))
	mux.HandleFunc("/gib-chunked/v", gib(false))
	mux.HandleFunc("/big-header/v", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("h", 1<<20))
		w.Write([]byte(`{"status":"SUCCESS"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	for _, tc := range []struct{ path, kind string }{
		{"/silent", "timeout"},
		{"/stall", "timeout"},
		{"/trickle", "timeout"},
		{"/gib-announced", "too_large"},
		{"/gib-chunked", "too_large"},
		{"/big-header", "network"},
	} {
		t.Run(tc.path[1:], func(t *testing.T) {
			var log lockedBuffer
			e, err := New(Options{
				Webhook: &Webhook{URLs: []string{srv.URL + tc.path}, Timeout: Duration(300 * time.Millisecond),
					Resources: map[string]Resource{"validate": {Suffix: "/v"}}},
				Provider: "acme", Store: testdb.SQLite(t), ChallengeLifetime: time.Minute,
				Log: slog.New(slog.NewTextHandler(&log, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			// The store's and the server's goroutines are there before, and stay.
			before := runtime.NumGoroutine()
			start := time.Now()
			out, err := e.Validate(context.Background(), req("totp", "", "123456"))
			took := time.Since(start)
			e.Close()
			if err != nil || out.Status != provider.StatusFailed {
				t.Errorf("validate: %+v, %v; want FAILED", out, err)
			}
			if took > 3*time.Second {
				t.Errorf("validate took %v; the timeout is 300ms", took)
			}
			if !strings.Contains(log.String(), "kind="+tc.kind) {
				t.Errorf("log does not say kind=%s:\n%.600s", tc.kind, log.String())
			}
			if len(log.String()) > 4096 {
				t.Errorf("the log holds %d bytes for one failed call", len(log.String()))
			}
			srv.CloseClientConnections()
			if n := settledGoroutines(before); n > before {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines after, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}
