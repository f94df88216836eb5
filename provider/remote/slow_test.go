package remote

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/emfa/emfa/provider"
)

// A vendor slower than the request deadline is the engine's FAILED (or []), never an
// error: the adapter answers an engine's error 503, which is for the store's faults.
func TestVendorSlowerThanTheRequestDeadline(t *testing.T) {
	v := newVendor(t, func(r *http.Request, _ string) (int, string) {
		<-r.Context().Done() // answers once the engine has given up
		return 200, `{"status":"SUCCESS"}`
	})
	e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Timeout: Duration(time.Minute), Resources: map[string]Resource{
		"validate":    {Suffix: "/v"},
		"initiate":    {Suffix: "/i"},
		"enrollments": {Suffix: "/e"},
		"test":        {Suffix: "/t"},
	}})
	deadline := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if out, err := e.Validate(deadline(), req("totp", "", "1")); out.Status != provider.StatusFailed || err != nil {
		t.Errorf("validate: %+v %v, want FAILED", out, err)
	}
	if out, err := e.Initiate(deadline(), req("push", "", "")); out.Status != provider.StatusFailed || err != nil {
		t.Errorf("initiate: %+v %v, want FAILED", out, err)
	}
	if list, err := e.Enrollments(deadline(), "alice"); len(list) != 0 || err != nil {
		t.Errorf("enrollments: %+v %v, want []", list, err)
	}
	if out, err := e.Test(deadline()); out.Status != provider.StatusFailed || err != nil {
		t.Errorf("test: %+v %v, want FAILED", out, err)
	}
}
