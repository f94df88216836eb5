package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestMetricsBearerScheme: a scrape's bearer token is read in any case of its scheme
// (RFC 9110 §11.1), and nothing else opens /metrics.
func TestMetricsBearerScheme(t *testing.T) {
	h := NewMetrics("test").Handler("scrape-token")
	for hdr, want := range map[string]int{
		"Bearer scrape-token": http.StatusOK,
		"bearer scrape-token": http.StatusOK,
		"BEARER scrape-token": http.StatusOK,
		"Basic scrape-token":  http.StatusUnauthorized,
		"scrape-token":        http.StatusUnauthorized,
		"Bearer other":        http.StatusUnauthorized,
		"":                    http.StatusUnauthorized,
	} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Authorization", hdr)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Authorization %q: %d, want %d", hdr, rec.Code, want)
		}
	}
}
