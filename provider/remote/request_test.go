package remote

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"testing"
)

// TestVendorRequest: vendorRequest builds the request http.NewRequestWithContext builds
// from target's text, for plain targets and the others alike, in fewer allocations for a
// plain one (every vendor call's).
func TestVendorRequest(t *testing.T) {
	ctx := context.Background()
	for _, raw := range []string{
		"https://api-x.duosecurity.com/auth/v2/auth",
		"https://api-x.duosecurity.com/admin/v1/users?username=alice&ikey=I",
		"http://127.0.0.1:8080/a%2Fb/c",
		"https://[::1]:8443/x",
		"https://vendor.example:/x",      // an empty port: removed
		"https://u:p@vendor.example/x",   // userinfo
		"https://vendor.example",         // no path
		"https://vendor.example/p#frag",  // a fragment
		"https://vendor.example/p?",      // ForceQuery
		"https://vendor.example/a b?q=1", // a path to escape
		"HTTPS://Vendor.Example/Up",
	} {
		for _, body := range [][]byte{nil, {}, []byte("async=1&username=alice")} {
			for _, method := range []string{"POST", "", "BAD METHOD"} {
				target, err := url.Parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				want, wantErr := http.NewRequestWithContext(ctx, method, target.String(), bytesReader(body))
				got, gotErr := vendorRequest(ctx, method, target, body)
				if (wantErr != nil) != (gotErr != nil) {
					t.Fatalf("%s %s: error %v, want %v", method, raw, gotErr, wantErr)
				}
				if wantErr != nil {
					continue
				}
				if got.Method != want.Method || got.URL.String() != want.URL.String() || got.URL.RequestURI() != want.URL.RequestURI() ||
					got.Host != want.Host || got.URL.Host != want.URL.Host || got.URL.Path != want.URL.Path ||
					got.URL.RawPath != want.URL.RawPath || got.URL.RawQuery != want.URL.RawQuery ||
					got.Proto != want.Proto || got.ContentLength != want.ContentLength || got.Context() != want.Context() ||
					(got.Body == nil) != (want.Body == nil) || (got.GetBody == nil) != (want.GetBody == nil) ||
					(got.Body == http.NoBody) != (want.Body == http.NoBody) {
					t.Errorf("%q %s body %q:\n got %+v\nwant %+v", method, raw, body, got, want)
					continue
				}
				if got.Body != nil {
					g, _ := io.ReadAll(got.Body)
					w, _ := io.ReadAll(want.Body)
					gb, _ := got.GetBody()
					again, _ := io.ReadAll(gb)
					if !bytes.Equal(g, w) || !bytes.Equal(again, w) {
						t.Errorf("%s body %q, again %q, want %q", raw, g, again, w)
					}
				}
			}
		}
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	target, _ := url.Parse("https://api-x.duosecurity.com/auth/v2/auth")
	body := []byte("async=1&device=DPFZRS9FB0D46QFTM891&factor=push&username=alice")
	before := testing.AllocsPerRun(100, func() { http.NewRequestWithContext(ctx, "POST", target.String(), bytes.NewReader(body)) })
	n := testing.AllocsPerRun(100, func() { vendorRequest(ctx, "POST", target, body) })
	t.Logf("a vendor call's request: %v allocations, %v through its URL's text", n, before)
	if n > before-3 {
		t.Errorf("vendorRequest allocates %v times, through the URL's text %v: want 3 fewer", n, before)
	}
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}
