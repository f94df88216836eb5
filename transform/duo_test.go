package transform

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/verifyfiles"
)

const (
	duoHost = "api-1234abcd.duosecurity.com"
	duoIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	duoSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
)

type duoResource struct {
	Suffix    string `json:"suffix"`
	Method    string `json:"method"`
	Transform struct {
		Outgoing string `json:"outgoing"`
		Incoming string `json:"incoming"`
	} `json:"transform"`
}

// duoPrograms are IBM's DUO transforms compiled in emfa's environments.
type duoPrograms struct {
	resources map[string]duoResource
	outgoing  map[string]*Program
	incoming  map[string]*Program
}

func loadDUO(tb testing.TB) *duoPrograms {
	tb.Helper()
	data := verifyfiles.Read(tb, "ibm-duo-webhook.json")
	var wh struct {
		Resources map[string]duoResource `json:"resources"`
	}
	if err := json.Unmarshal(data, &wh); err != nil {
		tb.Fatal(err)
	}
	if len(wh.Resources) == 0 {
		tb.Fatal("no resources in the DUO webhook")
	}
	outEnv, err := NewEnv(Outgoing)
	if err != nil {
		tb.Fatal(err)
	}
	inEnv, err := NewEnv(Incoming)
	if err != nil {
		tb.Fatal(err)
	}
	d := &duoPrograms{resources: wh.Resources, outgoing: map[string]*Program{}, incoming: map[string]*Program{}}
	for name, r := range wh.Resources {
		if d.outgoing[name], err = Compile(outEnv, r.Transform.Outgoing); err != nil {
			tb.Fatalf("%s outgoing: %v", name, err)
		}
		if d.incoming[name], err = Compile(inEnv, r.Transform.Incoming); err != nil {
			tb.Fatalf("%s incoming: %v", name, err)
		}
	}
	return d
}

// duoBodies are Verify's contract payloads for each resource.
var duoBodies = map[string]map[string]any{
	"test":        {},
	"enrollments": {"username": "alice smith+1@example.com"},
	"initiate": {"id": "DPFZRS9FB0D46QFTM891", "capability": "smsotp",
		"attributes": map[string]any{"username": "alice"}},
	"validate": {"attributes": map[string]any{"passvalue": "123 456", "username": "alice"}},
	"hotp_1":   {"attributes": map[string]any{"passvalue": "654321", "username": "bob~o'neil"}},
	"result":   {"transactionId": "45f7c92b-f45f-4862-8545-e0f58e78075a"},
}

// duoParams are the parameters each resource sends, which DUO's signature covers.
var duoParams = map[string]url.Values{
	"test":        {},
	"enrollments": {"username": {"alice smith+1@example.com"}},
	"initiate":    {"async": {"1"}, "device": {"DPFZRS9FB0D46QFTM891"}, "factor": {"sms"}, "username": {"alice"}},
	"validate":    {"factor": {"passcode"}, "passcode": {"123 456"}, "username": {"alice"}},
	"hotp_1":      {"factor": {"passcode"}, "passcode": {"654321"}, "username": {"bob~o'neil"}},
	"result":      {"txid": {"45f7c92b-f45f-4862-8545-e0f58e78075a"}},
}

func duoVars(name string, r duoResource) Vars {
	return Vars{
		"body":   duoBodies[name],
		"header": map[string][]string{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
		"method": r.Method,
		"path":   r.Suffix,
		"host":   duoHost,
		"authentication_header": map[string]string{
			"hdr_integration_key": duoIKey,
			"hdr_signing_key":     duoSKey,
		},
		"now": fixedNow,
	}
}

// duoCanonParams encodes parameters as DUO's own client does: sorted keys, url.Values encoding
// with %20 for space.
func duoCanonParams(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "+", "%20")
}

// duoAuthorization computes DUO's Authorization header independently of the transform.
func duoAuthorization(date, method, host, path, params string) string {
	canon := strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, params}, "\n")
	mac := hmac.New(sha1.New, []byte(duoSKey))
	mac.Write([]byte(canon))
	sig := hex.EncodeToString(mac.Sum(nil))
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(duoIKey+":"+sig))
}

func TestDUOOutgoing(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	date := fixedNow.Format("02 Jan 06 15:04 -0700")
	for _, name := range slices.Sorted(maps.Keys(d.resources)) {
		r := d.resources[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, err := d.outgoing[name].Eval(context.Background(), duoVars(name, r))
			if err != nil {
				t.Fatal(err)
			}
			params := duoCanonParams(duoParams[name])
			want := map[string]any{
				"skip_authentication": true,
				"header": map[string]any{
					"date":          []any{date},
					"accept":        []any{"application/json"},
					"authorization": []any{duoAuthorization(date, r.Method, duoHost, r.Suffix, params)},
				},
			}
			hdr := want["header"].(map[string]any)
			switch name {
			case "test":
				// Only accept is set: the JSON content type stays, under its own name.
				hdr["Content-Type"] = []any{"application/json"}
			default:
				hdr["content-type"] = []any{"application/x-www-form-urlencoded"}
			}
			switch r.Method {
			case "POST":
				want["body"] = params
			case "GET":
				if name == "result" {
					want["query"] = map[string]any{"txid": duoParams[name].Get("txid")}
				}
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("%s outgoing (-want +got):\n%s", name, diff)
			}
		})
	}
}

func TestDUOOutgoingDateFollowsNow(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	vars := duoVars("test", d.resources["test"])
	vars["now"] = fixedNow.Add(90 * time.Minute)
	out, err := d.outgoing["test"].Eval(context.Background(), vars)
	if err != nil {
		t.Fatal(err)
	}
	got := out["header"].(map[string]any)["date"]
	if diff := cmp.Diff([]any{"05 Mar 24 08:38 +0000"}, got); diff != "" {
		t.Errorf("date header (-want +got):\n%s", diff)
	}
}

func TestDUOIncoming(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	phone := map[string]any{
		"device": "DPFZRS9FB0D46QFTM891", "type": "phone", "number": "XXX-XXX-0100", "name": "My iPhone",
		"capabilities": []any{"auto", "push", "sms", "phone"},
	}
	token := map[string]any{
		"device": "DHEKH0JJIYC1LX3AZWO4", "type": "token", "name": "YubiKey",
		"capabilities": []any{"mobile_otp"},
	}
	enrollment := func(dev map[string]any, capability, flow string) map[string]any {
		addr := ""
		if n, ok := dev["number"].(string); ok {
			addr = n
		}
		return map[string]any{
			"id":         dev["device"],
			"capability": capability,
			"attributes": map[string]any{
				"deviceName":        dev["name"],
				"deliveryAddress":   addr,
				"authExecutionFlow": flow,
			},
		}
	}
	ok := func(resp map[string]any) map[string]any { return map[string]any{"stat": "OK", "response": resp} }
	status := func(s string, attrs map[string]any) map[string]any {
		m := map[string]any{"status": s}
		if attrs != nil {
			m["attributes"] = attrs
		}
		return m
	}
	authResp := func(result, st string) map[string]any {
		return map[string]any{"result": result, "status": st, "status_msg": "x"}
	}
	cases := []struct {
		resource, name string
		body           any
		want           any
	}{
		{"test", "ok", map[string]any{"stat": "OK", "response": map[string]any{"time": 1357020061}},
			status("SUCCESS", map[string]any{"stat": "OK", "response": map[string]any{"time": int64(1357020061)}})},
		{"test", "fail", map[string]any{"stat": "FAIL", "code": 40101},
			status("FAILED", map[string]any{"stat": "FAIL", "code": int64(40101)})},
		{"test", "empty", map[string]any{}, status("FAILED", nil)},

		{"enrollments", "two devices", ok(map[string]any{"result": "auth", "devices": []any{phone, token}}),
			[]any{
				enrollment(phone, "push", "init_then_poll"),
				enrollment(phone, "smsotp", "init_then_validate"),
				enrollment(phone, "phone", "init_then_validate"),
				enrollment(token, "hotp", "validate"),
			}},
		{"enrollments", "no devices", ok(map[string]any{"result": "enroll", "status_msg": "Enroll an authentication device."}),
			[]any{}},
		{"enrollments", "empty device list", ok(map[string]any{"result": "auth", "devices": []any{}}), []any{}},
		{"enrollments", "only auto", ok(map[string]any{"devices": []any{map[string]any{
			"device": "D1", "capabilities": []any{"auto"}}}}), []any{}},
		{"enrollments", "error answer", map[string]any{"stat": "FAIL", "code": 40002}, []any{}},

		{"initiate", "txid", ok(map[string]any{"txid": "45f7c92b"}),
			map[string]any{"status": "PENDING", "transactionId": "45f7c92b"}},
		{"initiate", "no txid", ok(map[string]any{}), status("FAILED", nil)},

		{"validate", "allow", ok(authResp("allow", "allow")), status("SUCCESS", authResp("allow", "allow"))},
		{"validate", "deny", ok(authResp("deny", "deny")), status("FAILED", authResp("deny", "deny"))},
		{"validate", "no result", ok(map[string]any{}), status("FAILED", nil)},
		{"hotp_1", "allow", ok(authResp("allow", "allow")), status("SUCCESS", authResp("allow", "allow"))},
		{"hotp_1", "locked out", ok(authResp("deny", "locked_out")), status("FAILED", authResp("deny", "locked_out"))},

		{"result", "waiting", ok(authResp("waiting", "pushed")), status("PENDING", authResp("waiting", "pushed"))},
		{"result", "allow", ok(authResp("allow", "allow")), status("SUCCESS", authResp("allow", "allow"))},
		{"result", "deny sent", ok(authResp("deny", "sent")), status("PENDING", authResp("deny", "sent"))},
		{"result", "timeout", ok(authResp("deny", "timeout")), status("TIMEOUT", authResp("deny", "timeout"))},
		{"result", "fraud", ok(authResp("deny", "fraud")), status("FAILED", authResp("deny", "fraud"))},
		{"result", "deny", ok(authResp("deny", "deny")), status("FAILED", authResp("deny", "deny"))},
		{"result", "no response", map[string]any{"stat": "FAIL"}, status("FAILED", nil)},
	}
	for _, tc := range cases {
		t.Run(tc.resource+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			body := roundTripJSON(t, tc.body)
			out, err := d.incoming[tc.resource].Eval(context.Background(), Vars{
				"body":        body,
				"header":      map[string][]string{"Content-Type": {"application/json"}},
				"status_code": 200,
				"request":     map[string]any{"body": duoBodies[tc.resource]},
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(map[string]any{"body": tc.want}, out); diff != "" {
				t.Errorf("%s incoming (-want +got):\n%s", tc.resource, diff)
			}
		})
	}
}

// roundTripJSON passes v through JSON and DecodeJSON, as a response body would arrive.
func roundTripJSON(t testing.TB, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	body, err := DecodeJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// BenchmarkDUOTransforms measures evaluation of IBM's DUO transforms, compiled once.
func BenchmarkDUOTransforms(b *testing.B) {
	d := loadDUO(b)
	preauth := roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{
		"result": "auth",
		"devices": []any{
			map[string]any{"device": "D1", "type": "phone", "number": "XXX-XXX-0100", "name": "iPhone",
				"capabilities": []any{"auto", "push", "sms", "phone"}},
			map[string]any{"device": "D2", "type": "token", "name": "YubiKey", "capabilities": []any{"mobile_otp"}},
		},
	}})
	incomingBody := map[string]any{
		"test":        roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{"time": 1357020061}}),
		"enrollments": preauth,
		"initiate":    roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{"txid": "45f7c92b"}}),
		"validate":    roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{"result": "allow", "status": "allow"}}),
		"hotp_1":      roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{"result": "allow", "status": "allow"}}),
		"result":      roundTripJSON(b, map[string]any{"stat": "OK", "response": map[string]any{"result": "waiting", "status": "pushed"}}),
	}
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(d.resources)) {
		r := d.resources[name]
		b.Run(name+"/outgoing", func(b *testing.B) {
			vars := duoVars(name, r)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.outgoing[name].Eval(ctx, vars); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/incoming", func(b *testing.B) {
			vars := Vars{"body": incomingBody[name], "header": map[string][]string{}, "status_code": 200,
				"request": map[string]any{"body": duoBodies[name]}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.incoming[name].Eval(ctx, vars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDUOTransformsValues evaluates IBM's DUO transforms as the remote engine does: inputs
// converted once per call (NewValue, NewHeaderValue; static headers, authentication values,
// method, path and host once per engine and resource) and the
// result read as a Value, without converting it to Go maps.
func BenchmarkDUOTransformsValues(b *testing.B) {
	d := loadDUO(b)
	incoming := map[string]any{
		"test":        map[string]any{"stat": "OK", "response": map[string]any{"time": 1357020061}},
		"enrollments": map[string]any{"stat": "OK", "response": map[string]any{"result": "auth", "devices": []any{map[string]any{"device": "D1", "type": "phone", "number": "XXX-XXX-0100", "name": "iPhone", "capabilities": []any{"auto", "push", "sms", "phone"}}, map[string]any{"device": "D2", "type": "token", "name": "YubiKey", "capabilities": []any{"mobile_otp"}}}}},
		"initiate":    map[string]any{"stat": "OK", "response": map[string]any{"txid": "45f7c92b"}},
		"validate":    map[string]any{"stat": "OK", "response": map[string]any{"result": "allow", "status": "allow"}},
		"hotp_1":      map[string]any{"stat": "OK", "response": map[string]any{"result": "allow", "status": "allow"}},
		"result":      map[string]any{"stat": "OK", "response": map[string]any{"result": "waiting", "status": "pushed"}},
	}
	ctx := context.Background()
	header := NewHeaderValue(map[string][]string{"Content-Type": {"application/json"}, "Accept": {"application/json"}})
	auth := NewValue(map[string]string{"hdr_integration_key": duoIKey, "hdr_signing_key": duoSKey})
	for _, name := range slices.Sorted(maps.Keys(d.resources)) {
		r := d.resources[name]
		body := NewValue(roundTripJSON(b, duoBodies[name]))
		b.Run(name+"/outgoing", func(b *testing.B) {
			vars := Vars{"body": body, "header": header, "method": NewValue(r.Method), "path": NewValue(r.Suffix),
				"host": NewValue(duoHost), "authentication_header": auth, "now": fixedNow}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.outgoing[name].EvalValue(ctx, vars); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/incoming", func(b *testing.B) {
			vars := Vars{"body": NewValue(roundTripJSON(b, incoming[name])), "header": NewHeaderValue(nil), "status_code": 200,
				"request": map[string]any{"body": body}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.incoming[name].EvalValue(ctx, vars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
