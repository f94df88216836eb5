package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestDeviceClientFollowsNoRedirect: `emfa device` followed redirects with
// Go's default client, so a 307 from whatever answered at --server re-sent the
// activation code (and, for a signed call, the device's headers with a fresh, unused
// nonce) to an address the operator never named. The notifier and the senders refuse
// redirects for that reason; the device client now does too, and says so.
func TestDeviceClientFollowsNoRedirect(t *testing.T) {
	var reached atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"deviceId":"stolen"}`)
	}))
	defer elsewhere.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	d := &deps{stdout: io.Discard, now: time.Now}
	state := filepath.Join(t.TempDir(), "phone.json")
	err := d.deviceRegister(context.Background(), redirector.URL, "abcdefabcdefabcdefabcdefab", "ES256", "", state)
	if err == nil {
		t.Error("registration through a redirect succeeded")
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("the redirect's target got %d request(s) carrying the activation code", n)
	}
}
