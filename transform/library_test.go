package transform

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"github.com/google/go-cmp/cmp"
)

// fixedNow is the clock of every test evaluation.
var fixedNow = time.Date(2024, time.March, 5, 7, 8, 9, 0, time.UTC)

// testEnv declares a few variables of each shape the tests need.
func testEnv(t testing.TB) *Env {
	t.Helper()
	env, err := NewEnvWithVariables(map[string]*cel.Type{
		"m":      cel.MapType(cel.StringType, cel.DynType),
		"header": headerType,
		"d":      cel.DynType,
		"s":      cel.StringType,
		"now":    cel.TimestampType,
	})
	if err != nil {
		t.Fatalf("NewEnvWithVariables: %v", err)
	}
	return env
}

// eval compiles {"v": expr} and returns the value of v.
func eval(t *testing.T, env *Env, expr string, vars Vars) (any, error) {
	t.Helper()
	prg, err := Compile(env, `{"v": `+expr+`}`)
	if err != nil {
		t.Fatalf("Compile(%s): %v", expr, err)
	}
	if vars == nil {
		vars = Vars{}
	}
	if _, ok := vars["now"]; !ok {
		vars["now"] = fixedNow
	}
	out, err := prg.Eval(context.Background(), vars)
	if err != nil {
		return nil, err
	}
	return out["v"], nil
}

type exprCase struct {
	name    string
	expr    string
	vars    Vars
	want    any
	wantErr string // substring of the error; "" for success
}

func runExprCases(t *testing.T, cases []exprCase) {
	t.Helper()
	env := testEnv(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := eval(t, env, tc.expr, tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error %v, want one containing %q", tc.expr, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.expr, diff)
			}
		})
	}
}

func TestPut(t *testing.T) {
	t.Parallel()
	hdr := map[string][]string{"Accept": {"application/json"}, "X-Id": {"1", "2"}}
	runExprCases(t, []exprCase{
		{name: "adds", expr: `{"a": 1}.put("b", 2)`, want: map[string]any{"a": int64(1), "b": int64(2)}},
		{name: "replaces", expr: `{"a": 1}.put("a", "x")`, want: map[string]any{"a": "x"}},
		{name: "empty map", expr: `{}.put("a", [1, 2])`, want: map[string]any{"a": []any{int64(1), int64(2)}}},
		{name: "string stays string off header", expr: `{"a": ["x"]}.put("b", "c")`,
			want: map[string]any{"a": []any{"x"}, "b": "c"}},
		{name: "does not mutate receiver", expr: `[m.put("a", 2), m]`,
			vars: Vars{"m": map[string]any{"a": int64(1)}},
			want: []any{map[string]any{"a": int64(2)}, map[string]any{"a": int64(1)}}},
		{name: "dyn receiver", expr: `d.put("k", "v")`, vars: Vars{"d": map[string]any{"n": int64(1)}},
			want: map[string]any{"k": "v", "n": int64(1)}},
		{name: "int key equal to uint key", expr: `{1: "a"}.put(dyn(1u), "b")`, want: map[string]any{"1": "b"}},
		{name: "header string becomes list", expr: `header.put("date", "Tue")`, vars: Vars{"header": hdr},
			want: map[string]any{"Accept": []any{"application/json"}, "X-Id": []any{"1", "2"}, "date": []any{"Tue"}}},
		{name: "header list kept", expr: `header.put("x", ["a", "b"])`, vars: Vars{"header": map[string][]string{}},
			want: map[string]any{"x": []any{"a", "b"}}},
		{name: "header name case-insensitive", expr: `header.put("accept", "text/plain")`, vars: Vars{"header": hdr},
			want: map[string]any{"accept": []any{"text/plain"}, "X-Id": []any{"1", "2"}}},
		{name: "chained header puts", expr: `header.put("a", "1").put("b", "2")`, vars: Vars{"header": nil},
			want: map[string]any{"a": []any{"1"}, "b": []any{"2"}}},
		{name: "header does not mutate input", expr: `[header.put("Accept", "x"), header]`, vars: Vars{"header": hdr},
			want: []any{
				map[string]any{"Accept": []any{"x"}, "X-Id": []any{"1", "2"}},
				map[string]any{"Accept": []any{"application/json"}, "X-Id": []any{"1", "2"}},
			}},
		// A put on a header map shares the map it was put on (header.go): reads must see what a
		// copy would hold.
		{name: "chained header reads", vars: Vars{"header": hdr},
			expr: `[header.put("date", "Mon").put("accept", "x").date, header.put("date", "Mon").put("accept", "x")["accept"], header.put("date", "Mon").put("accept", "x")["X-Id"], "Accept" in header.put("date", "Mon").put("accept", "x"), "Date" in header.put("date", "Mon").put("accept", "x"), has(header.put("date", "Mon").put("accept", "x").date), size(header.put("date", "Mon").put("accept", "x")), header.put("date", "Mon").put("accept", "x").put("DATE", "b").size()]`,
			want: []any{[]any{"Mon"}, []any{"x"}, []any{"1", "2"}, false, false, true, int64(3), int64(3)}},
		{name: "chained header iteration", vars: Vars{"header": hdr},
			expr: `header.put("date", "Mon").put("accept", "x").map(k, k).sort()`,
			want: []any{"X-Id", "accept", "date"}},
		{name: "chained header equality", vars: Vars{"header": hdr},
			expr: `[header.put("a", "1").put("A", "2") == {"Accept": ["application/json"], "X-Id": ["1", "2"], "A": ["2"]},
				{"Accept": ["application/json"], "X-Id": ["1", "2"], "A": ["2"]} == header.put("a", "1").put("A", "2")]`,
			want: []any{true, true}},
		{name: "chained header put replaces a chained key", vars: Vars{"header": nil},
			expr: `header.put("a", "1").put("b", "2").put("A", "3")`,
			want: map[string]any{"A": []any{"3"}, "b": []any{"2"}}},
		{name: "chained header putAll", vars: Vars{"header": hdr},
			expr: `header.put("date", "Mon").putAll({"DATE": "Tue", "x-id": ["3"]})`,
			want: map[string]any{"Accept": []any{"application/json"}, "DATE": []any{"Tue"}, "x-id": []any{"3"}}},
		{name: "chained header form-encoded", vars: Vars{"header": nil},
			expr: `jsonToFormURLEncoded(header.put("b", "2").put("a", "1").put("B", "3"), true)`,
			want: "B=3&a=1"},
		{name: "long header chain", vars: Vars{"header": nil},
			expr: `header.put("k0", "0").put("k1", "1").put("k2", "2").put("k3", "3").put("k4", "4").put("k5", "5")` +
				`.put("k6", "6").put("k7", "7").put("k8", "8").put("k9", "9").put("k10", "10").put("k11", "11")` +
				`.put("k12", "12").put("k13", "13").put("k14", "14").put("k15", "15").put("k16", "16")` +
				`.put("K0", "x").put("k17", "17")`,
			want: map[string]any{"K0": []any{"x"}, "k1": []any{"1"}, "k2": []any{"2"}, "k3": []any{"3"},
				"k4": []any{"4"}, "k5": []any{"5"}, "k6": []any{"6"}, "k7": []any{"7"}, "k8": []any{"8"},
				"k9": []any{"9"}, "k10": []any{"10"}, "k11": []any{"11"}, "k12": []any{"12"}, "k13": []any{"13"},
				"k14": []any{"14"}, "k15": []any{"15"}, "k16": []any{"16"}, "k17": []any{"17"}}},
		{name: "header int key", vars: Vars{"header": nil},
			expr: `[header.put(dyn(1), "a").put("b", "c")[1], header.put(dyn(1), "a").put(dyn(1u), "c").size()]`,
			want: []any{[]any{"a"}, int64(1)}},
		{name: "header rejects int", expr: `header.put("a", 1)`, vars: Vars{"header": hdr},
			wantErr: "header value must be a string or a list of strings"},
		{name: "header rejects list of int", expr: `header.put("a", [1])`, vars: Vars{"header": hdr},
			wantErr: "header value must be a string or a list of strings"},
		{name: "bytes key", expr: `{}.put(b"k", 1)`, wantErr: "put: unsupported key type bytes"},
		{name: "double key", expr: `{}.put(1.5, 1)`, wantErr: "put: unsupported key type double"},
		{name: "not a map", expr: `d.put("a", 1)`, vars: Vars{"d": "text"}, wantErr: "no such overload"},
	})
}

func TestPutAll(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "merges", expr: `{"a": 1, "b": 2}.putAll({"b": 3, "c": 4})`,
			want: map[string]any{"a": int64(1), "b": int64(3), "c": int64(4)}},
		{name: "empty argument", expr: `{"a": 1}.putAll({})`, want: map[string]any{"a": int64(1)}},
		{name: "empty receiver", expr: `{}.putAll({"a": 1})`, want: map[string]any{"a": int64(1)}},
		{name: "does not mutate", expr: `[m.putAll({"a": 2}), m]`, vars: Vars{"m": map[string]any{"a": int64(1)}},
			want: []any{map[string]any{"a": int64(2)}, map[string]any{"a": int64(1)}}},
		{name: "header values become lists", expr: `header.putAll({"date": "x", "accept": ["a", "b"]})`,
			vars: Vars{"header": map[string][]string{"Accept": {"json"}, "Host": {"h"}}},
			want: map[string]any{"date": []any{"x"}, "accept": []any{"a", "b"}, "Host": []any{"h"}}},
		{name: "header rejects map", expr: `header.putAll({"a": {"b": "c"}})`, vars: Vars{"header": nil},
			wantErr: "header value must be"},
		// IBM's documented use of status_code as a key into a map (docs: webhooks-http-status).
		{name: "status code map", expr: `d.putAll({400: {"status": "pending"}, 200: {"status": "ok"}}[400])`,
			vars: Vars{"d": map[string]any{"status": "x", "id": "1"}},
			want: map[string]any{"status": "pending", "id": "1"}},
	})
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "duo layout", expr: `formatTime(now, '02 Jan 06 15:04 -0700')`, want: "05 Mar 24 07:08 +0000"},
		{name: "rfc1123z", expr: `formatTime(now, 'Mon, 02 Jan 2006 15:04:05 -0700')`, want: "Tue, 05 Mar 2024 07:08:09 +0000"},
		{name: "now in another zone is formatted in UTC", expr: `formatTime(now, '15:04 MST')`,
			vars: Vars{"now": fixedNow.In(time.FixedZone("CET", 3600))}, want: "07:08 UTC"},
		{name: "timestamp literal", expr: `formatTime(timestamp('2001-02-03T04:05:06Z'), '2006-01-02 15:04:05')`,
			want: "2001-02-03 04:05:06"},
		{name: "timestamp with offset keeps it", expr: `formatTime(timestamp('2024-01-02T03:04:05+02:00'), '15:04 -0700')`,
			want: "03:04 +0200"},
		{name: "empty layout", expr: `formatTime(now, '')`, want: ""},
		{name: "no layout elements", expr: `formatTime(now, 'date:')`, want: "date:"},
	})
}

func TestJoinStrings(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "join", expr: `joinStrings(["a", "b", "c"], "\n")`, want: "a\nb\nc"},
		{name: "empty list", expr: `joinStrings([], ",")`, want: ""},
		{name: "one element", expr: `joinStrings(["a"], ",")`, want: "a"},
		{name: "empty separator", expr: `joinStrings(["a", "b"], "")`, want: "ab"},
		{name: "empty elements", expr: `joinStrings(["", "", ""], ":")`, want: "::"},
		{name: "unicode", expr: `joinStrings(["ünï", "☃"], "—")`, want: "ünï—☃"},
		{name: "non-string element", expr: `joinStrings(["a", d], ",")`, vars: Vars{"d": int64(1)},
			wantErr: "joinStrings: element 1 is int, not string"},
	})
}

func TestHMAC(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		// RFC 2202 test case 2 and RFC 4231 test case 2.
		{name: "sha1 rfc2202", expr: `hmacSha1("what do ya want for nothing?", "Jefe")`,
			want: "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
		{name: "sha1 empty", expr: `hmacSha1("", "")`, want: "fbdb1d1b18aa6c08324b7d64b71fb76370690e1d"},
		{name: "sha256 rfc4231", expr: `hmacSha256("what do ya want for nothing?", "Jefe")`,
			want: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{name: "sha256 empty", expr: `hmacSha256("", "")`,
			want: "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
	})
}

func TestStringFunctions(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "base64", expr: `"hello".base64Encode()`, want: "aGVsbG8="},
		{name: "base64 padding", expr: `"ab".base64Encode()`, want: "YWI="},
		{name: "base64 empty", expr: `"".base64Encode()`, want: ""},
		{name: "base64 utf-8", expr: `"é".base64Encode()`, want: "w6k="},
		{name: "base64 std alphabet", expr: `"\xff\xfe".base64Encode()`, want: "w7/Dvg=="},
		{name: "upper", expr: `"Get".toUpper()`, want: "GET"},
		{name: "upper unicode", expr: `"école σ".toUpper()`, want: "ÉCOLE Σ"},
		{name: "lower", expr: `"/Auth/V2".toLower()`, want: "/auth/v2"},
		{name: "lower unicode", expr: `"ÉCOLE".toLower()`, want: "école"},
		{name: "lower empty", expr: `"".toLower()`, want: ""},
	})
}

func TestJSONToFormURLEncoded(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "sorted", expr: `jsonToFormURLEncoded({"username": "alice", "async": "1", "factor": "push"}, true)`,
			want: "async=1&factor=push&username=alice"},
		{name: "unsorted is reproducible", expr: `jsonToFormURLEncoded({"username": "alice", "async": "1", "factor": "push"}, false)`,
			want: "async=1&factor=push&username=alice"},
		{name: "byte order", expr: `jsonToFormURLEncoded({"b": "1", "B": "2", "a_": "3", "a": "4"}, true)`,
			want: "B=2&a=4&a_=3&b=1"},
		{name: "space is %20", expr: `jsonToFormURLEncoded({"q": "a b"}, true)`, want: "q=a%20b"},
		{name: "reserved characters", expr: `jsonToFormURLEncoded({"k": "a+b/c?d=e&f#g%h*i'j(k)!@:;,$"}, true)`,
			want: "k=a%2Bb%2Fc%3Fd%3De%26f%23g%25h%2Ai%27j%28k%29%21%40%3A%3B%2C%24"},
		{name: "unreserved kept", expr: `jsonToFormURLEncoded({"k": "AZaz09-._~"}, true)`, want: "k=AZaz09-._~"},
		{name: "unicode", expr: `jsonToFormURLEncoded({"név": "é☃"}, true)`, want: "n%C3%A9v=%C3%A9%E2%98%83"},
		{name: "keys encoded", expr: `jsonToFormURLEncoded({"a b&c": "1"}, true)`, want: "a%20b%26c=1"},
		{name: "scalars as json", expr: `jsonToFormURLEncoded({"i": 42, "u": 7u, "f": 1.5, "t": true, "n": null}, true)`,
			want: "f=1.5&i=42&n=&t=true&u=7"},
		{name: "list repeats key", expr: `jsonToFormURLEncoded({"b": "x", "a": ["2", 1, "0"]}, true)`,
			want: "a=2&a=1&a=0&b=x"},
		{name: "empty map", expr: `jsonToFormURLEncoded({}, true)`, want: ""},
		{name: "empty value", expr: `jsonToFormURLEncoded({"a": ""}, true)`, want: "a="},
		{name: "dyn values", expr: `jsonToFormURLEncoded({"username": m.user, "n": m.n}, true)`,
			vars: Vars{"m": map[string]any{"user": "bob smith", "n": int64(3)}}, want: "n=3&username=bob%20smith"},
		{name: "map value", expr: `jsonToFormURLEncoded({"a": {"b": "c"}}, true)`,
			wantErr: `key 'a': value of type map cannot be form-encoded`},
		{name: "nested list", expr: `jsonToFormURLEncoded({"a": [["b"]]}, true)`,
			wantErr: `value of type list cannot be form-encoded`},
	})
}

func TestFlatten(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "lists", expr: `[[1, 2], [3]].flatten()`, want: []any{int64(1), int64(2), int64(3)}},
		{name: "empty", expr: `[].flatten()`, want: []any{}},
		{name: "empty inner", expr: `[[], [], ["a"]].flatten()`, want: []any{"a"}},
		{name: "one level only", expr: `[[1, [2]], [[3]]].flatten()`,
			want: []any{int64(1), []any{int64(2)}, []any{int64(3)}}},
		{name: "mixed elements", expr: `[1, [2, 3]].flatten()`, want: []any{int64(1), int64(2), int64(3)}},
		{name: "maps", expr: `[[{"a": 1}], [{"b": 2}]].flatten()`,
			want: []any{map[string]any{"a": int64(1)}, map[string]any{"b": int64(2)}}},
	})
}

func TestMask(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "phone e164", expr: `maskPhone("+15551230123")`, want: "+1******0123"},
		{name: "phone formatted", expr: `maskPhone("+1 555-123-0123")`, want: "+1 ***-***-0123"},
		{name: "phone no plus", expr: `maskPhone("4915112345678")`, want: "4********5678"},
		{name: "phone short", expr: `maskPhone("1234567")`, want: "*******"},
		{name: "phone eight digits", expr: `maskPhone("12345678")`, want: "1***5678"},
		{name: "phone empty", expr: `maskPhone("")`, want: ""},
		{name: "email", expr: `maskEmail("alice@example.com")`, want: "a***@example.com"},
		{name: "email one letter", expr: `maskEmail("a@example.com")`, want: "a***@example.com"},
		{name: "email unicode", expr: `maskEmail("élise@exemple.fr")`, want: "é***@exemple.fr"},
		{name: "email empty local", expr: `maskEmail("@example.com")`, want: "***@example.com"},
		{name: "email quoted at", expr: `maskEmail("\"a@b\"@example.com")`, want: "\"***@example.com"},
		{name: "email no at", expr: `maskEmail("bob")`, want: "b***"},
		{name: "email empty", expr: `maskEmail("")`, want: ""},
	})
}

// pathSegment lets a value through only when it is one path segment, whatever a proxy
// decodes: no slash or backslash, not a dot segment, percent-encoded or not.
func TestPathSegment(t *testing.T) {
	t.Parallel()
	const refused = "pathSegment: the value is not one path segment"
	runExprCases(t, []exprCase{
		{name: "plain", expr: `pathSegment("alice")`, want: "alice"},
		{name: "email", expr: `pathSegment("bob.smith+x@example.com")`, want: "bob.smith+x@example.com"},
		{name: "dots inside", expr: `pathSegment("a..b")`, want: "a..b"},
		{name: "three dots", expr: `pathSegment("...")`, want: "..."},
		{name: "escaped by emfa", expr: `pathSegment("a b?c#d%")`, want: "a b?c#d%"},
		{name: "encoded letter", expr: `pathSegment("%41")`, want: "%41"},
		{name: "variable", expr: `pathSegment(m.user)`, vars: Vars{"m": map[string]any{"user": "bob"}}, want: "bob"},
		{name: "slash", expr: `pathSegment("bob/../alice")`, wantErr: refused},
		{name: "slash alone", expr: `pathSegment("bob/alice")`, wantErr: refused},
		{name: "backslash", expr: `pathSegment("bob\\alice")`, wantErr: refused},
		{name: "dot dot", expr: `pathSegment("..")`, wantErr: refused},
		{name: "dot", expr: `pathSegment(".")`, wantErr: refused},
		{name: "empty", expr: `pathSegment("")`, wantErr: refused},
		{name: "encoded slash", expr: `pathSegment("bob%2Falice")`, wantErr: refused},
		{name: "encoded backslash", expr: `pathSegment("bob%5calice")`, wantErr: refused},
		{name: "encoded dots", expr: `pathSegment("%2e%2E")`, wantErr: refused},
		{name: "twice encoded dots", expr: `pathSegment("%252e%252e")`, wantErr: refused},
		{name: "value not in the error", expr: `pathSegment("secret/x")`, wantErr: "not one path segment (empty"},
	})
}

func TestUUID(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	got, err := eval(t, env, `[uuid(), uuid()]`, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := got.([]any)
	v4 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, id := range ids {
		if !v4.MatchString(id.(string)) {
			t.Errorf("uuid() = %q, not a version 4 UUID", id)
		}
	}
	if ids[0] == ids[1] {
		t.Errorf("two uuid() calls returned %q", ids[0])
	}
}

// TestExtensions checks that the pinned extension libraries are present.
func TestExtensions(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "strings", expr: `"a,b".split(",").join("-").upperAscii()`, want: "A-B"},
		{name: "strings format", expr: `"%s-%d".format(["a", 1])`, want: "a-1"},
		{name: "encoders", expr: `base64.encode(b"hi")`, want: "aGk="},
		{name: "lists", expr: `[3, 1, 2].sort().slice(0, 2)`, want: []any{int64(1), int64(2)}},
	})
}

func TestFunctionListsAreOffered(t *testing.T) {
	t.Parallel()
	offered := map[string]bool{}
	for _, f := range Functions() {
		offered[f] = true
	}
	for _, f := range append(VerifyFunctions(), EmfaOnlyFunctions()...) {
		if !offered[f] {
			t.Errorf("function %s is listed but not offered", f)
		}
	}
}

// The pooled one-shot HMAC agrees with crypto/hmac for keys shorter than, as long as and longer
// than the hash's block, messages of any length, and concurrent use.
func TestHMACMatchesCryptoHMAC(t *testing.T) {
	t.Parallel()
	for _, h := range []struct {
		name       string
		new        func() hash.Hash
		sum        func(dst, data []byte) []byte
		block, len int
	}{
		{"sha1", sha1.New, sha1Sum, sha1.BlockSize, sha1.Size},
		{"sha256", sha256.New, sha256Sum, sha256.BlockSize, sha256.Size},
	} {
		for _, kl := range []int{0, 1, 20, 63, 64, 65, 128, 129, 300} {
			for _, ml := range []int{0, 1, 55, 64, 1000, 5000} {
				key, msg := strings.Repeat("k", kl), strings.Repeat("m€", ml)
				mac := hmac.New(h.new, []byte(key))
				mac.Write([]byte(msg))
				want := hex.EncodeToString(mac.Sum(nil))
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						if got := hmacHexString(h.sum, h.block, h.len, key, msg); got != want {
							t.Errorf("%s key %d msg %d: %s, want %s", h.name, kl, ml, got, want)
						}
					})
				}
				wg.Wait()
			}
		}
	}
}
