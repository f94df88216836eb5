package remote

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
)

// TestLifecycleRetryAfter: a lifecycle call the vendor refuses for now (429, or
// a 503 saying when to come back) fails with an error that says how long (RetryAfter,
// which the sync queue waits before the next attempt, and holds the vendor's other
// propagations meanwhile), in seconds or as an HTTP date, and says it in its message (the
// queue's note); a 429 that does not say (DUO's) is refused for now all the same, with 0;
// any other failure is no such refusal. Before, the Retry-After was dropped, and the
// queue asked again after its own 2 s backoff.
func TestLifecycleRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		status     int
		retryAfter string
		want       time.Duration // -1: no RetryAfter
	}{
		{"429 in seconds", 429, "120", 2 * time.Minute},
		{"503 as an HTTP date", 503, now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"a date past", 429, now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"no Retry-After", 429, "", 0},
		{"garbage", 429, "soon", 0},
		{"negative", 429, "-5", 0},
		{"a 503 without", 503, "", -1},
		{"a 503's garbage", 503, "soon", -1},
		{"huge", 429, "99999999999999999999", maxVendorRetryAfter},
		{"a day and more", 429, "100000", maxVendorRetryAfter},
		{"past a Duration in seconds", 429, "9999999999", maxVendorRetryAfter},
		{"a 500's", 500, "120", -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.retryAfter != "" {
					w.Header().Set("Retry-After", c.retryAfter)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(c.status)
				w.Write([]byte(`{"stat":"FAIL","code":42901,"message":"Too Many Requests"}`))
			}))
			t.Cleanup(srv.Close)
			e, err := New(Options{Webhook: &Webhook{URLs: []string{srv.URL}, Lifecycle: map[string][]LifecycleStep{
				"user.create": {{Name: "add", Resource: Resource{Suffix: "/users"}}}}},
				Provider: "acme", Store: testdb.SQLite(t), Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			err = e.Propagate(t.Context(), provider.LifecycleEvent{ID: "1", Type: "user.create", Source: "okta", Username: "alice"})
			if err == nil {
				t.Fatal("no error")
			}
			var busy interface{ RetryAfter() time.Duration }
			switch {
			case c.want < 0 && errors.As(err, &busy):
				t.Errorf("%v: refused for now, to wait %s, want a failure", err, busy.RetryAfter())
			case c.want >= 0 && !errors.As(err, &busy):
				t.Errorf("%v: not refused for now, want to wait %s", err, c.want)
			case c.want >= 0 && busy.RetryAfter() != c.want:
				t.Errorf("%v: says to wait %s, want %s", err, busy.RetryAfter(), c.want)
			case c.want > 0 && !strings.Contains(err.Error(), "Retry-After"):
				t.Errorf("%v: the message does not say the vendor asked to wait", err)
			}
		})
	}
}
