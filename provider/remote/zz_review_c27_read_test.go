package remote

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestReviewC27NoLimitBody: a webhook whose maxResponseBytes is the largest it may be
// (math.MaxInt64, "no limit", which validation accepts) reads its vendor's answer. The
// limit readAtMost was handed, maxBody + 1, wrapped around to math.MinInt64: the call
// panicked making its buffer (a negative capacity); through io.LimitReader before, the
// answer read as empty.
func TestReviewC27NoLimitBody(t *testing.T) {
	for _, announced := range []int64{-1, 5} {
		c, err := newClient(&Webhook{Timeout: Duration(5 * time.Second), MaxResponseBytes: math.MaxInt64}, func(http.RoundTripper) http.RoundTripper {
			return roundTripFunc(func(req *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: announced,
					Body: io.NopCloser(strings.NewReader("hello")), Request: req}, nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		target, _ := url.Parse("http://192.0.2.1/x")
		req, _ := vendorRequest(context.Background(), http.MethodPost, target, []byte("a=1"))
		var resp *response
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = nil
					t.Errorf("announced %d: the call panicked: %v", announced, p)
				}
			}()
			resp, err = c.do(context.Background(), req)
		}()
		if err != nil || resp != nil && string(resp.Body) != "hello" {
			t.Errorf("announced %d: %v, %v; want the body hello", announced, resp, err)
		}
		c.Close()
	}
}
