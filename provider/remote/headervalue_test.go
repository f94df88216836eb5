package remote

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// TestHeaderValueWithLineBreakRefused: a header value holding a line break (a
// secret read with its trailing newline: a Kubernetes secretKeyRef, an echo into a file)
// can never be sent — Go's client refuses the request, so every vendor call failed — and
// signs wrongly when a transform reads it. It is refused at load, without its value.
func TestHeaderValueWithLineBreakRefused(t *testing.T) {
	w := &Webhook{
		URLs:    []string{"https://vendor.example"},
		Headers: []Header{{Key: "X-Tenant", Value: "acme\r\nX-Evil: 1"}, {Key: "X-Ok", Value: "fine value"}},
		Authentication: Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{
			{Key: "ikey", Value: "DIXXXXXXXXXXXXXXXXXX"},
			{Key: "skey", Value: config.Secret("s3cretsigningkey\n"), Sensitive: true},
		}}},
	}
	err := w.Validate()
	if err == nil {
		t.Fatal("Validate accepted header values with line breaks")
	}
	for _, path := range []string{"headers[0].value", "authentication.header.values[1].value"} {
		if !strings.Contains(err.Error(), path+": ") {
			t.Errorf("%s not refused: %v", path, err)
		}
	}
	for _, path := range []string{"headers[1]", "values[0]"} {
		if strings.Contains(err.Error(), path) {
			t.Errorf("%s refused: %v", path, err)
		}
	}
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "acme") {
		t.Errorf("the error repeats a value: %v", err)
	}
}
