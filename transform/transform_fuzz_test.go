package transform

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// evalBound is how long one fuzzed evaluation may take: the cost limit (about 50 ms of
// work) and the context's deadline stop it well before, even on a loaded machine.
const evalBound = 5 * time.Second

// FuzzTransform compiles arbitrary CEL as an outgoing and an incoming transform and
// evaluates what compiles against an arbitrary JSON body: an error or a map, never a
// panic, and always in bounded time.
func FuzzTransform(f *testing.F) {
	for _, src := range []string{
		`{"body": body}`,
		`{"body": {"username": body.username.toUpper(), "n": size(body)}}`,
		`{"header": header.put("date", formatTime(now, "02 Jan 06 15:04 -0700")), "body": jsonToFormURLEncoded({"a": "1", "b": ["x", "y"]}, true)}`,
		`{"body": has(body.response) && has(body.response.txid) ? {"status": "PENDING", "transactionId": body.response.txid} : {"status": "FAILED"}}`,
		`{"body": hmacSha1("msg", "key").base64Encode() + joinStrings(["a","b"], ",") + uuid()}`,
		`{"body": [1,2,3].map(x, [1,2,3].map(y, [1,2,3].map(z, x*y*z))).flatten()}`,
		`{"body": maskPhone("+15551230123") + maskEmail("alice@example.com")}`,
		`{"body": "a".matches("^(a+)+$")}`,
	} {
		f.Add(src, []byte(`{"username":"alice","response":{"txid":"t1"},"devices":[{"capabilities":["push"]}]}`))
	}
	f.Add(`{"body": body.devices.map(d, d.capabilities.map(c, c))}`, []byte(`{"devices":[]}`))
	out, err := NewEnv(Outgoing)
	if err != nil {
		f.Fatal(err)
	}
	in, err := NewEnv(Incoming)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		if len(src) > 4<<10 || len(body) > 16<<10 {
			return
		}
		decoded, err := DecodeJSON(body)
		if err != nil {
			decoded = map[string]any{}
		}
		obj, isObj := decoded.(map[string]any)
		if !isObj {
			obj = map[string]any{"value": decoded}
		}
		hdr := http.Header{"Content-Type": {"application/json"}}
		for _, c := range []struct {
			env  *Env
			vars Vars
		}{
			{out, Vars{VarBody: obj, VarHeader: hdr, VarMethod: "POST", VarPath: "/p", VarHost: "h", VarAuthenticationHeader: map[string]string{"k": "v"}, VarNow: now}},
			{in, Vars{VarBody: decoded, VarHeader: hdr, VarStatusCode: 200, VarRequest: map[string]any{"body": obj}}},
		} {
			start := time.Now()
			p, err := Compile(c.env, src)
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			res, err := p.Eval(ctx, c.vars)
			cancel()
			if took := time.Since(start); took > evalBound {
				t.Fatalf("%q took %s", src, took)
			}
			if err == nil && res == nil {
				t.Fatalf("%q: no result and no error", src)
			}
		}
	})
}
