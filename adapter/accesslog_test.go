package adapter

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAccessLogFaultLevel: the access log's line for a server fault is at ERROR,
// and one for a request its client abandoned at WARN. The deadline middleware's context,
// which the request carries once it has run, is always cancelled by the time the line is
// written, so every 5xx was taken for an abandoned request and logged at WARN.
func TestAccessLogFaultLevel(t *testing.T) {
	validate := `{"capability":"totp","id":"f1","attributes":{"username":"alice","passvalue":"123456"}}`
	requestLine := func(logs string) string {
		for _, l := range strings.Split(logs, "\n") {
			if strings.Contains(l, `"msg":"request"`) {
				return l
			}
		}
		return ""
	}
	h := newHarness(t, nil)

	h.engine.err = errors.New("store down")
	before := len(h.logs.String())
	if code, _, _ := h.do(t, "POST", "/v1/providers/acme/validate", validate); code != 503 {
		t.Fatalf("status %d, want 503", code)
	}
	if l := requestLine(h.logs.String()[before:]); !strings.Contains(l, `"level":"ERROR"`) || !strings.Contains(l, `"status":503`) {
		t.Errorf("a server fault's access line is not at ERROR: %s", l)
	}

	h.engine.err = context.DeadlineExceeded
	before = len(h.logs.String())
	if code, _, _ := h.do(t, "POST", "/v1/providers/acme/validate", validate); code < 500 {
		t.Fatalf("status %d, want 5xx", code)
	}
	if l := requestLine(h.logs.String()[before:]); !strings.Contains(l, `"level":"ERROR"`) {
		t.Errorf("a fault at the deadline's access line is not at ERROR: %s", l)
	}

	h.engine.err = context.Canceled
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest("POST", "/v1/providers/acme/validate", strings.NewReader(validate)).WithContext(ctx)
	req.SetBasicAuth("verify", "pw-secret")
	before = len(h.logs.String())
	h.srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	if l := requestLine(h.logs.String()[before:]); !strings.Contains(l, `"level":"WARN"`) {
		t.Errorf("an abandoned request's access line is not at WARN: %s", l)
	}
}
