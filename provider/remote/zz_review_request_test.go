package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"
)

// TestReviewVendorRequestOddTargets: the targets a call really sends (a base URL, a
// suffix joined by joinSuffix, then a path and a query an outgoing transform made, set by
// onto) give the request that http.NewRequestWithContext gives from their text, with
// every byte in the path, escapes, IPv6 hosts with and without a zone, ports, and base
// queries: the same text on the wire. (A RawPath joinSuffix set that is the default
// encoding of Path, which parsing would leave empty, is the same path.)
func TestReviewVendorRequestOddTargets(t *testing.T) {
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

// TestReviewEncodeTxDataEveryByte: encodeTxData writes json.Marshal's bytes for an id of
// any one byte, any two, and ids with each byte among plain ones.
func TestReviewEncodeTxDataEveryByte(t *testing.T) {
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
