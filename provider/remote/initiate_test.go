package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestLookupNoAlloc: finding a capability's resource ("push_1") on every initiate,
// validate and result allocates nothing (fmt.Sprintf and strings.ToLower made one or two
// allocations a call), and finds what the lower-cased fmt.Sprintf name found, a capability
// beyond ASCII or longer than the stack buffer included.
func TestLookupNoAlloc(t *testing.T) {
	generic := &resource{name: "initiate"}
	long := strings.Repeat("X", 80)
	e := &Engine{resources: map[string]*resource{"initiate": generic}}
	for _, c := range []string{"push", "Push", "SMS", "ÉMAIL", "straße", long, "a_b"} {
		e.resources[strings.ToLower(fmt.Sprintf("%s_%d", c, 1))] = &resource{name: c}
	}
	for _, c := range []string{"push", "PUSH", "Push", "sms", "SMS", "émail", "ÉMAIL", "STRASSE", "straße", "STRAßE", long, strings.ToLower(long), "A_B", "totp", ""} {
		want := generic
		if r, ok := e.resources[strings.ToLower(fmt.Sprintf("%s_%d", c, 1))]; ok && c != "" {
			want = r
		}
		if got := e.lookup("initiate", c, 1); got != want {
			t.Errorf("lookup(%q) = %v, want %v", c, got, want)
		}
	}
	if got := e.lookup("initiate", "push", 2); got != generic {
		t.Errorf("lookup(push, 2) = %v, want the generic resource", got)
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	if n := testing.AllocsPerRun(100, func() { e.lookup("initiate", "Push", 1) }); n != 0 {
		t.Errorf("lookup allocates %v times a call, want 0", n)
	}
}

// TestTransformHeaderEachAttempt: the outgoing transform's headers, its Host among
// them, reach the vendor on every attempt: once, when the request takes the transform's
// own header map (no token that a retry could refresh), and on both attempts of an OAuth
// call retried after a 401, which still sends a copy.
func TestTransformHeaderEachAttempt(t *testing.T) {
	const outgoing = `{"header": {"Host": "vendor.example", "X-Sig": "abc"}}`
	check := func(t *testing.T, v *vendor, hosts []string, want int) {
		t.Helper()
		reqs := v.requests()
		if len(reqs) != want || len(hosts) != want {
			t.Fatalf("vendor saw %d requests (%d hosts), want %d", len(reqs), len(hosts), want)
		}
		for i, r := range reqs {
			if r.Header.Get("X-Sig") != "abc" || r.Header.Get("Host") != "" || hosts[i] != "vendor.example" {
				t.Errorf("request %d: X-Sig %q, Host header %q, Host %q", i, r.Header.Get("X-Sig"), r.Header.Get("Host"), hosts[i])
			}
		}
	}
	t.Run("one attempt", func(t *testing.T) {
		var hosts []string
		v := newVendor(t, func(r *http.Request, _ string) (int, string) {
			hosts = append(hosts, r.Host)
			return 200, `{"status":"SUCCESS"}`
		})
		e := newEngine(t, &Webhook{URLs: []string{v.srv.URL}, Resources: map[string]Resource{
			"validate": {Suffix: "/v", Transform: Transform{Outgoing: outgoing}},
		}})
		for range 2 {
			if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusSuccess {
				t.Fatalf("validate: %+v", out)
			}
		}
		check(t, v, hosts, 2)
	})
	t.Run("retried with a fresh token", func(t *testing.T) {
		var tokens atomic.Int32
		tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"tok-`+string(rune('0'+n))+`","token_type":"bearer","expires_in":3600}`)
		}))
		t.Cleanup(tokenSrv.Close)
		var hosts []string
		v := newVendor(t, func(r *http.Request, _ string) (int, string) {
			hosts = append(hosts, r.Host)
			if r.Header.Get("Authorization") == "Bearer tok-1" {
				return 401, `{"error":"expired"}`
			}
			return 200, `{"status":"SUCCESS"}`
		})
		e := newEngine(t, &Webhook{
			URLs: []string{v.srv.URL},
			Authentication: Authentication{Type: AuthOAuth, OAuth: OAuth{
				TokenEndpoint: tokenSrv.URL, ClientID: "c", ClientSecret: "s"}},
			Resources: map[string]Resource{"validate": {Suffix: "/v", Transform: Transform{Outgoing: outgoing}}},
		})
		if out, _ := e.Validate(context.Background(), req("totp", "", "1")); out.Status != provider.StatusSuccess {
			t.Fatalf("validate: %+v", out)
		}
		check(t, v, hosts, 2)
		if got := v.requests()[1].Header.Get("Authorization"); got != "Bearer tok-2" {
			t.Errorf("retry's Authorization %q, want the fresh token", got)
		}
	})
}

// TestPayloadReusesAttributes: the outgoing transform's body is what it was (Verify's
// attributes with username and passvalue put in), without copying attributes that hold
// them already, as the adapter's initiate does; never writing to the request's map.
func TestPayloadReusesAttributes(t *testing.T) {
	old := func(req provider.Request) map[string]any { // the copy payload always made
		attrs := make(map[string]any, len(req.Attributes)+2)
		for k, v := range req.Attributes {
			attrs[k] = v
		}
		attrs["username"] = req.Username
		if req.Passvalue != "" {
			attrs["passvalue"] = req.Passvalue
		}
		body := map[string]any{"capability": req.Capability, "id": req.ID, "attributes": attrs}
		if req.TransactionID != "" {
			body["transactionId"] = req.TransactionID
		}
		return body
	}
	base := provider.Request{Capability: "push", ID: "d1", Username: "alice"}
	for _, tc := range []struct {
		name      string
		attrs     map[string]any
		pass, txn string
	}{
		{"initiate", map[string]any{"username": "alice", "n": json.Number("7")}, "", ""},
		{"no attributes", nil, "", ""},
		{"another user", map[string]any{"username": "bob"}, "", ""},
		{"username not a string", map[string]any{"username": json.Number("1")}, "", ""},
		{"passvalue put in", map[string]any{"username": "alice"}, "123456", "t1"},
		{"passvalue already", map[string]any{"username": "alice", "passvalue": "123456"}, "123456", ""},
		{"other passvalue", map[string]any{"username": "alice", "passvalue": "9"}, "123456", ""},
		{"stray passvalue", map[string]any{"username": "alice", "passvalue": "9"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := base
			req.Attributes, req.Passvalue, req.TransactionID = tc.attrs, tc.pass, tc.txn
			before := fmt.Sprint(tc.attrs)
			if got, want := payload(req), old(req); !reflect.DeepEqual(got, want) {
				t.Errorf("payload = %v, want %v", got, want)
			}
			if after := fmt.Sprint(tc.attrs); after != before {
				t.Errorf("request's attributes changed: %s -> %s", before, after)
			}
		})
	}
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	req := base
	req.Attributes = map[string]any{"username": "alice"}
	copied := testing.AllocsPerRun(100, func() { old(req) })
	if n := testing.AllocsPerRun(100, func() { payload(req) }); n >= copied {
		t.Errorf("payload of an initiate allocates %v times, the copy %v: want fewer", n, copied)
	} else {
		t.Logf("payload of an initiate: %v allocations, %v with the copy", n, copied)
	}
}
