package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/emfa/emfa/provider"
)

// TestVendorRequestOddTargets: the targets a call really sends (a base URL, a
// suffix joined by joinSuffix, then a path and a query an outgoing transform made, set by
// onto) give the request that http.NewRequestWithContext gives from their text, with
// every byte in the path, escapes, IPv6 hosts with and without a zone, ports, and base
// queries: the same text on the wire. (A RawPath joinSuffix set that is the default
// encoding of Path, which parsing would leave empty, is the same path.)
func TestVendorRequestOddTargets(t *testing.T) {
	ctx := context.Background()
	bases := []string{
		"https://vendor.example", "https://vendor.example/api", "https://vendor.example/a%2Fb",
		"http://127.0.0.1:8080/v1/", "https://[::1]:8443/x", "https://[fe80::1%25en0]:8443/x",
		"https://vendor.example/x?key=a%20b&k2", "https://Vendor.Example:443/p;q",
		"https://vendor.example/%7Euser", "https://xn--caf-dma.example/", "https://vendor.example/a+b",
	}
	suffixes := []string{"", "/auth", "/a%2Fb", "/a%zz", "/%E2%82%AC", "/x y", "/x;y=1", "/x?y"}
	var paths []string
	for c := 0; c < 0x100; c++ {
		paths = append(paths, "/p"+string([]byte{byte(c)})+"q")
	}
	paths = append(paths, "", "/", "//double", "/a%2Fb", "/a%252F", "/€", "/%", "/a?b=c", "/a#b", "/a b",
		"/\xff\xfe", "/"+string(utf8.RuneError))
	queries := []map[string][]string{nil, {"q": {"a b", "c&d", "#", "%", "€", "\x01"}}, {"": {""}}}
	n := 0
	for _, raw := range bases {
		base, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		for _, suffix := range suffixes {
			for _, p := range paths {
				for _, q := range queries {
					target := joinSuffix(base, suffix)
					o := outgoing{method: "POST", path: target.Path, query: q}
					if p != "" {
						o.path = p
					}
					o.onto(target)
					text := target.String()
					want, wantErr := http.NewRequestWithContext(ctx, "POST", text, nil)
					got, gotErr := vendorRequest(ctx, "POST", target, nil)
					n++
					if (wantErr != nil) != (gotErr != nil) {
						t.Errorf("%q: error %v, want %v", text, gotErr, wantErr)
						continue
					}
					if wantErr != nil {
						continue
					}
					if got.URL.String() != want.URL.String() || got.URL.RequestURI() != want.URL.RequestURI() ||
						got.Host != want.Host || got.URL.Host != want.URL.Host || got.URL.Path != want.URL.Path ||
						got.URL.EscapedPath() != want.URL.EscapedPath() || got.URL.RawQuery != want.URL.RawQuery ||
						got.URL.Fragment != want.URL.Fragment || got.URL.Hostname() != want.URL.Hostname() ||
						got.URL.Port() != want.URL.Port() {
						t.Errorf("%q:\n got %#v\nwant %#v", text, got.URL, want.URL)
					}
				}
			}
		}
	}
	t.Logf("%d targets", n)
}

// TestEncodeTxDataEveryByte: encodeTxData writes json.Marshal's bytes for an id of
// any one byte, any two, and ids with each byte among plain ones.
func TestEncodeTxDataEveryByte(t *testing.T) {
	check := func(id string) {
		want, err := json.Marshal(txData{Vendor: id})
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeTxData(id); !bytes.Equal(got, want) {
			t.Errorf("encodeTxData(%q) = %q, want %q", id, got, want)
		}
		var back txData
		if err := json.Unmarshal(encodeTxData(id), &back); err != nil {
			t.Errorf("encodeTxData(%q) does not read back: %v", id, err)
		}
	}
	for a := 0; a < 0x100; a++ {
		check(string([]byte{byte(a)}))
		check("txid-" + string([]byte{byte(a)}) + "-end")
		for b := 0; b < 0x100; b++ {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
	for _, id := range []string{"\u2028\u2029", "\u00e9", "\U0001F600", "\xed\xa0\x80", "a\x00b", `}"],"x":"`} {
		check(id)
	}
}

// TestConcurrentCallsOwnHeaders: calls made at once, each with headers, a header
// list and a query its outgoing transform made of its own passcode, beside the static
// headers and basic authentication set on the request's header map (the transform's own,
// taken without a copy): the vendor sees every call's own values and nothing of another's.
func TestConcurrentCallsOwnHeaders(t *testing.T) {
	var mu sync.Mutex
	var bad []string
	v := newVendor(t, func(r *http.Request, body string) (int, string) {
		pv := r.URL.Query().Get("q")
		want := http.Header{"X-User": {pv}, "X-List": {pv, "b", pv + "-2"}, "X-Static": {"s"}}
		for k, vs := range want {
			if !slices.Equal(r.Header.Values(k), vs) {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("call %s: %s %q, want %q", pv, k, r.Header.Values(k), vs))
				mu.Unlock()
			}
		}
		if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "p" || len(r.Header.Values("Authorization")) != 1 {
			mu.Lock()
			bad = append(bad, fmt.Sprintf("call %s: Authorization %q", pv, r.Header.Values("Authorization")))
			mu.Unlock()
		}
		return 200, `{"status": "SUCCESS"}`
	})
	e := newEngine(t, &Webhook{
		URLs:           []string{v.srv.URL},
		Authentication: Authentication{Type: AuthBasic, Basic: BasicAuth{Username: "u", Password: "p"}},
		Headers:        []Header{{Key: "X-Static", Value: "s"}},
		Resources: map[string]Resource{"validate": {Suffix: "/v", Transform: Transform{
			Outgoing: `{"query": {"q": body.attributes.passvalue},
				"header": {"x-user": body.attributes.passvalue, "X-Static": "s",
					"x-list": [body.attributes.passvalue, "b"], "X-List": body.attributes.passvalue + "-2"}}`,
		}}},
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				out, err := e.Validate(ctx, req("totp", "", fmt.Sprintf("%d-%d", g, i)))
				if err != nil || out.Status != provider.StatusSuccess {
					t.Errorf("call %d-%d: %+v %v", g, i, out, err)
				}
			}
		}()
	}
	wg.Wait()
	if len(v.requests()) != 200 {
		t.Errorf("%d requests, want 200", len(v.requests()))
	}
	for _, b := range bad[:min(len(bad), 10)] {
		t.Error(b)
	}
}
