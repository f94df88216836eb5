package adapter

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// duoEnrollments is an enrollments answer as duo.yaml's transform makes it: one device,
// a capability (the harness offers totp) and three attributes, all strings.
var duoEnrollments = []provider.Enrollment{{Capability: "totp", ID: "DPFZRS9FB0D46QFTM891",
	Attributes: map[string]any{"deviceName": "iPhone", "deliveryAddress": "+1 555-0100", "authExecutionFlow": "init_then_poll"}}}

// TestEnrollmentsAnswerAllocs bounds the allocations of an enrollments call
// answering DUO's list (the fake engine allocating nothing): encoding/json encoded it
// through echo's Encoder (the list boxed, the Encoder, and each map's sorted keys, its
// iterator and a copy of every key and value), eleven allocations of a mediated call's.
func TestEnrollmentsAnswerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's build allocates more")
	}
	run := contractRun(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`, slog.New(slog.DiscardHandler), duoEnrollments)
	if status := run(); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	got := testing.AllocsPerRun(200, func() { run() })
	t.Logf("enrollments answering one DUO device: %v allocations", got)
	if got > 23 {
		t.Errorf("enrollments answering one DUO device allocates %v times, want at most 23 (30 before)", got)
	}
}

// encodedAsBefore is the enrollments answer as echo's c.JSON wrote it: json.Encoder's.
func encodedAsBefore(t testing.TB, list []provider.Enrollment) string {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(list); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestEnrollmentsAnswerBytes: the enrollments answer is encoding/json's, byte for
// byte, whatever the strings hold (HTML characters, controls, quotes, U+2028, bytes that
// are not UTF-8), the map's keys in its order, values that are not strings, an absent
// list, an empty one, absent and empty attributes; and with ?pretty, indented as before.
func TestEnrollmentsAnswerBytes(t *testing.T) {
	h := newHarness(t, nil)
	for _, list := range [][]provider.Enrollment{
		nil, {},
		duoEnrollments,
		{{Capability: "totp", ID: "f1"}, {Capability: "smsOTP", ID: "f2", Attributes: map[string]any{}}},
		{{Capability: "totp", ID: "a<b>&c", Attributes: map[string]any{"q\"uote": "back\\slash", "ctl": "a\x01\tb\n", "z": "\u2028\u2029", "é": "Jürgen's iPhone"}}},
		{{Capability: "totp", ID: "f1", Attributes: map[string]any{"bad": "\xff\xfe", "del": "\x7f"}}},
		{{Capability: "totp", ID: "f1", Attributes: map[string]any{"n": 1.5, "b": true, "nil": nil, "m": map[string]any{"x": "y"}, "s": []any{"a"}}}},
		{{Capability: "totp", ID: "f1", Attributes: map[string]any{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10"}}},
		{{Capability: "totp", ID: "f1", Attributes: map[string]any{"b": "1", "B": "2", "a": "3", "": "4", "ab": "5", "a b": "6"}}},
	} {
		h.engine.enrolls = list
		code, body, hdr := h.doRaw(t, "POST", "/v1/providers/acme/enrollments", `{"username":"alice"}`)
		want := encodedAsBefore(t, list)
		if list == nil {
			want = "[]\n" // the provider answers an empty list for none
		}
		if code != http.StatusOK || body != want || hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%v: %d %s %q, want 200 application/json %q", list, code, hdr.Get("Content-Type"), body, want)
		}
	}
	// appendEnrollments writes the three fields it knows: one added to the type would
	// be left out of every answer it writes, where encoding/json wrote it.
	if n := reflect.TypeFor[provider.Enrollment]().NumField(); n != 3 {
		t.Errorf("provider.Enrollment has %d fields; appendEnrollments writes capability, id and attributes only", n)
	}
	h.engine.enrolls = duoEnrollments
	if _, body, _ := h.doRaw(t, "POST", "/v1/providers/acme/enrollments?pretty", `{"username":"alice"}`); !strings.HasPrefix(body, "[\n  {\n    \"capability\": \"totp\"") {
		t.Errorf("?pretty: %q", body)
	}
}

// FuzzEnrollmentsAnswer: appendEnrollments writes what json.Encoder writes, or
// declines.
func FuzzEnrollmentsAnswer(f *testing.F) {
	f.Add("push", "DPFZRS9FB0D46QFTM891", "deviceName", "iPhone", "deliveryAddress")
	f.Add("a<b", "\xff", "\u2028", "Jürgen", "\x00")
	f.Fuzz(func(t *testing.T, capability, id, k1, v1, k2 string) {
		list := []provider.Enrollment{{Capability: capability, ID: id, Attributes: map[string]any{k1: v1, k2: capability}}, {Capability: id, ID: capability}}
		got, ok := appendEnrollments(nil, list)
		if !ok {
			return
		}
		if want := encodedAsBefore(t, list); string(got) != want {
			t.Errorf("%q, json.Encoder %q", got, want)
		}
	})
}

// doRaw is do without trimming the answer.
func (h *harness) doRaw(t *testing.T, method, path, body string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("verify", "pw-secret")
	rec := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(rec, req)
	return rec.Code, rec.Body.String(), rec.Header()
}

// BenchmarkEnrollmentsAnswer is DUO's one device encoded as echo's c.JSON did
// (json.Encoder) and as appendEnrollments does.
func BenchmarkEnrollmentsAnswer(b *testing.B) {
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		var w bytes.Buffer
		for b.Loop() {
			w.Reset()
			json.NewEncoder(&w).Encode(duoEnrollments)
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			appendEnrollments(make([]byte, 0, 256), duoEnrollments)
		}
	})
}
