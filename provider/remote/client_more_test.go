package remote

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/rusage"
)

// TestVendorCallNoClientLayer bounds what one vendor call through the provider's
// real transport allocates, loopback server included, as TestVendorCallTimers does, with
// the headers a DUO call carries and the request's Host set, as vendorRequest sets it.
// http.Client.Do, with its redirects refused (noRedirect) and no cookie jar, copied the
// request's header map for redirects it never follows, copied its URL for a jar it does
// not have, and kept a slice of the requests: six allocations a call.
func TestVendorCallNoClientLayer(t *testing.T) {
	srv, c := loopbackVendor(t, `{"stat":"OK","response":{"txid":"t-1"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	target, err := url.Parse(srv.URL + "/auth/v2/auth")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("async=1&device=D1&factor=push&username=alice")
	req, err := vendorRequest(ctx, http.MethodPost, target, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{
		"Date":          {"Sun, 06 Dec 2026 09:00:00 -0000"},
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6c2ln"},
	}
	run := func() {
		req.Body, _ = req.GetBody()
		resp, err := c.do(ctx, req)
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("do: %v %v", resp, err)
		}
	}
	run()
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	got := testing.AllocsPerRun(2000, run)
	t.Logf("%v allocations a vendor call (client and loopback server)", got)
	if got > 86 {
		t.Errorf("a vendor call allocates %v times, want at most 86 (no http.Client layer, no LimitedReader)", got)
	}
}

// TestVendorCallClientBehaviour pins what http.Client did for a vendor call beyond
// the transport's round trip, whichever way do sends it: a 3xx is handed back as it is
// (noRedirect), unless its Location does not parse, which fails the call; a URL's userinfo
// is sent as Basic credentials when no Authorization header is set, and not over one; a
// request without a header map is sent; an HTTP answer to an https URL is named as such.
func TestVendorCallClientBehaviour(t *testing.T) {
	gotAuth := make(chan string, 8)
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		gotAuth <- r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	})
	for _, code := range []int{301, 302, 303, 307, 308} {
		mux.HandleFunc("/r"+strconv.Itoa(code), func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "/ok")
			w.WriteHeader(code)
		})
	}
	mux.HandleFunc("/badloc", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://[::1"}
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/badloc307", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://[::1"}
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/badloc300", func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Location"] = []string{"http://[::1"}
		w.WriteHeader(http.StatusMultipleChoices)
	})
	mux.HandleFunc("/noloc", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := newClient(&Webhook{Timeout: Duration(5 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	send := func(t *testing.T, raw string, body string) (*response, error) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, raw, nil)
		if body != "" {
			req, err = http.NewRequest(http.MethodPost, raw, strings.NewReader(body))
		}
		if err != nil {
			t.Fatal(err)
		}
		return c.do(ctx, req)
	}
	for _, code := range []int{301, 302, 303, 307, 308} {
		path := "/r" + strconv.Itoa(code)
		resp, err := send(t, srv.URL+path, "a=1")
		if err != nil || resp.Status != code || resp.Header.Get("Location") != "/ok" {
			t.Errorf("%s: %v %v, want the %d as it is", path, resp, err, code)
		}
	}
	select {
	case a := <-gotAuth:
		t.Errorf("a redirect was followed (the target saw Authorization %q)", a)
	default:
	}
	for _, path := range []string{"/badloc", "/badloc307"} {
		resp, err := send(t, srv.URL+path, "a=1")
		if err == nil || !strings.Contains(err.Error(), `failed to parse Location header "http://[::1"`) || errorKind(err) != "network" {
			t.Errorf("%s: %v %v, want a network error naming the Location", path, resp, err)
		}
	}
	if resp, err := send(t, srv.URL+"/badloc300", ""); err != nil || resp.Status != http.StatusMultipleChoices {
		t.Errorf("/badloc300: %v %v, want the 300 as it is", resp, err)
	}
	if resp, err := send(t, srv.URL+"/noloc", ""); err != nil || resp.Status != http.StatusFound {
		t.Errorf("/noloc: %v %v, want the 302 as it is", resp, err)
	}

	// Userinfo: Basic credentials, unless the request has its own Authorization.
	u, _ := url.Parse(srv.URL + "/ok")
	u.User = url.UserPassword("u", "p@ss")
	if _, err := send(t, u.String(), ""); err != nil {
		t.Fatal(err)
	}
	if a := <-gotAuth; a != "Basic dTpwQHNz" {
		t.Errorf("userinfo sent as Authorization %q, want Basic dTpwQHNz", a)
	}
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", "Bearer tok")
	if _, err := c.do(ctx, req); err != nil {
		t.Fatal(err)
	}
	if a := <-gotAuth; a != "Bearer tok" {
		t.Errorf("Authorization %q, want the request's own Bearer tok", a)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer tok" {
		t.Errorf("the caller's header became %q", got)
	}
	plain, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	if _, err := c.do(ctx, plain); err != nil {
		t.Fatal(err)
	}
	<-gotAuth
	if got := plain.Header.Get("Authorization"); got != "" {
		t.Errorf("the caller's header map was written: Authorization %q", got)
	}

	// No header map at all.
	bare := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: strings.TrimPrefix(srv.URL, "http://"), Path: "/ok"}}
	if resp, err := c.do(ctx, bare); err != nil || resp.Status != http.StatusOK {
		t.Errorf("a request without headers: %v %v", resp, err)
	} else if a := <-gotAuth; a != "" {
		t.Errorf("Authorization %q, want none", a)
	}

	// https to a plain HTTP server.
	_, err = send(t, strings.Replace(srv.URL, "http://", "https://", 1)+"/ok", "")
	if err == nil || !errors.Is(err, http.ErrSchemeMismatch) || errorKind(err) != "network" {
		t.Errorf("https to an HTTP server: %v, want http.ErrSchemeMismatch, a network error", err)
	}
}

// BenchmarkVendorCall is one DUO-shaped vendor call through the provider's real
// transport to a loopback server, the request as send builds it, with the process's CPU
// a call (client and server).
func BenchmarkVendorCall(b *testing.B) {
	srv, c := loopbackVendor(b, `{"stat":"OK","response":{"txid":"t-1"}}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	target, _ := url.Parse(srv.URL + "/auth/v2/auth")
	body := []byte("async=1&device=D1&factor=push&username=alice")
	header := http.Header{
		"Date":          {"Sun, 06 Dec 2026 09:00:00 -0000"},
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6c2ln"},
	}
	b.ReportAllocs()
	cpu := rusage.Process()
	for b.Loop() {
		req, _ := vendorRequest(ctx, http.MethodPost, target, body)
		req.Header = header
		if resp, err := c.do(ctx, req); err != nil || resp.Status != http.StatusOK {
			b.Fatalf("do: %v %v", resp, err)
		}
	}
	b.ReportMetric(float64((rusage.Process()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
