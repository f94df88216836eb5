package remote

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestVendorHeadersBounded is issue 15 item 5: maxResponseBytes bounds only the body, and
// a vendor's response headers of up to ~10 MB were read whole.
func TestVendorHeadersBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			for i := range 8 {
				w.Header().Set("X-Big-"+string(rune('a'+i)), strings.Repeat("h", 16<<10))
			}
		}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	c, err := newClient(&Webhook{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/big", nil)
	if resp, err := c.do(t.Context(), req); err == nil {
		t.Fatalf("128 KiB of response headers accepted (status %d)", resp.Status)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/small", nil)
	if resp, err := c.do(t.Context(), req); err != nil || resp.Status != 200 {
		t.Fatalf("ordinary answer: %v %v", resp, err)
	}
}
