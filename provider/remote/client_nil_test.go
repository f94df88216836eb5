package remote

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestWrappedTransportNilAnswer: a wrapper of the transport (Options.WrapTransport)
// that answers no response and no error fails the call, as http.Client did ("returned a
// nil *Response with a nil error"), rather than panic in the caller's goroutine.
func TestWrappedTransportNilAnswer(t *testing.T) {
	c, err := newClient(&Webhook{Timeout: Duration(5 * time.Second)}, func(http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := doRecovered(t, c, "a nil answer")
	if err == nil && resp != nil {
		t.Errorf("a nil answer with no error: %v, want an error", resp)
	}
	if err != nil && !strings.Contains(err.Error(), "nil *Response") {
		t.Errorf("error %v, want it to name the nil response", err)
	}
}

// doRecovered runs c.do with a POST to a documentation address (the transport under test
// answers it), reporting a panic as the test's failure (what, its label) and answering
// no error then.
func doRecovered(t *testing.T, c *client, what string) (resp *response, err error) {
	t.Helper()
	target, _ := url.Parse("http://192.0.2.1/x")
	req, _ := vendorRequest(context.Background(), http.MethodPost, target, []byte("a=1"))
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, nil
			t.Errorf("%s: the call panicked: %v", what, p)
		}
	}()
	return c.do(context.Background(), req)
}
