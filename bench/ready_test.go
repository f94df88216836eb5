package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Start-up is measured to the first /readyz 200, the probe an orchestrator sends traffic
// on (the store opened, migrated and answering), not to /healthz, which answers 200
// while the process runs, whatever its store.
func TestStartupIsReady(t *testing.T) {
	var readyz atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte(`{"status":"ok"}`))
		case "/readyz":
			if readyz.Add(1) <= 3 { // the store not answering yet
				http.Error(w, `{"messageId":"not_ready"}`, http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte(`{"status":"ready"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	p := &proc{name: "emfa", done: make(chan struct{})}
	if _, err := waitReady(t.Context(), p, srv.URL, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if n := readyz.Load(); n != 4 {
		t.Errorf("/readyz asked %d times, want 4: start-up ends at its first 200", n)
	}
}
