package adapter

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/provider"
)

// TestQueryRepeatedIdentifier: the security model refuses a JSON body that
// names a key twice ({"username":"nobody","username":"alice"}) with 400, since what a
// proxy or a WAF before emfa checked may not be what emfa reads. The query string of a
// GET enrollments or result was read with url.Values.Get, the first value of many:
// ?username=nobody&username=alice answered nobody's enrollments (a filter that looks at
// the last value saw alice), and a result named two transactions. Now an identifier
// named twice in the query is 400 invalid_request, naming it, and no engine is asked;
// one named once, and another parameter repeated, are read as before.
func TestQueryRepeatedIdentifier(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.enrolls = []provider.Enrollment{{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}}}
	const result = "/v1/providers/acme/result?transactionId=tx1&capability=totp&id=f1&username=alice"
	for _, tc := range []struct{ path, field string }{
		{"/v1/providers/acme/enrollments?username=nobody&username=alice", "username"},
		{"/v1/providers/acme/enrollments?username=alice&username=alice", "username"},
		{"/v1/providers/acme/enrollments?username=&username=alice", "username"},
		{result + "&transactionId=tx2", "transactionId"},
		{result + "&capability=sms", "capability"},
		{result + "&id=f2", "id"},
		{result + "&username=bob", "username"},
	} {
		h.engine.last = provider.Request{}
		code, body, _ := h.do(t, "GET", tc.path, "")
		if code != 400 || !strings.Contains(body, `"messageId":"invalid_request"`) || !strings.Contains(body, tc.field) {
			t.Errorf("GET %s: %d %s, want 400 invalid_request naming %s", tc.path, code, body, tc.field)
		}
		if h.engine.last.Username != "" || h.engine.last.TransactionID != "" {
			t.Errorf("GET %s reached the engine: %+v", tc.path, h.engine.last)
		}
	}
	// Named once, with another parameter repeated: read as before.
	if code, body, _ := h.do(t, "GET", "/v1/providers/acme/enrollments?username=alice&x=1&x=2", ""); code != 200 || !strings.Contains(body, `"f1"`) || h.engine.last.Username != "alice" {
		t.Errorf("GET enrollments named once: %d %s (asked for %q)", code, body, h.engine.last.Username)
	}
	if code, body, _ := h.do(t, "GET", result+"&x=1&x=2", ""); code != 200 || h.engine.last.TransactionID != "tx1" || h.engine.last.Username != "alice" {
		t.Errorf("GET result named once: %d %s (asked %+v)", code, body, h.engine.last)
	}
}

// TestQueryAndBodyIdentifier: a call whose body is read (any POST, a GET with a
// body) ignored the query string: POST enrollments?username=nobody with
// {"username":"alice"} answered alice's enrollments, where a proxy or a filter before
// emfa that reads the query saw nobody; a GET result with a body and ?transactionId=tx2
// was decided on the body's. An identifier the query gives another value than the body
// (or that the body lacks) is two values for it, refused 400 as a key named twice in the
// body is; the same value in both, and a query naming no identifier (?pretty), are read
// as before.
func TestQueryAndBodyIdentifier(t *testing.T) {
	h := newHarness(t, nil)
	h.engine.enrolls = []provider.Enrollment{{Capability: "totp", ID: "f1", Attributes: map[string]any{"authExecutionFlow": "validate"}}}
	const challenge = `{"capability":"totp","id":"f1","transactionId":"tx1","attributes":{"username":"alice","passvalue":"123456"}}`
	for _, tc := range []struct{ method, path, body, field string }{
		{"POST", "/v1/providers/acme/enrollments?username=nobody", `{"username":"alice"}`, "username"},
		{"GET", "/v1/providers/acme/enrollments?username=nobody", `{"username":"alice"}`, "username"},
		{"GET", "/v1/providers/acme/result?transactionId=tx2", challenge, "transactionId"},
		{"POST", "/v1/providers/acme/result?username=bob", challenge, "username"},
		{"POST", "/v1/providers/acme/validate?id=f2", challenge, "id"},
		{"POST", "/v1/providers/acme/initiate?capability=sms", challenge, "capability"},
		{"POST", "/v1/providers/acme/enrollments?username=alice", `{}`, "username"},
		{"POST", "/v1/providers/acme/validate?transactionId=tx1", `{"capability":"totp","id":"f1","attributes":{"username":"alice"}}`, "transactionId"},
		{"POST", "/v1/providers/acme/enrollments?username=alice&username=alice", `{"username":"alice"}`, "username"},
	} {
		h.engine.last = provider.Request{}
		code, body, _ := h.do(t, tc.method, tc.path, tc.body)
		if code != 400 || !strings.Contains(body, `"messageId":"invalid_request"`) || !strings.Contains(body, tc.field) {
			t.Errorf("%s %s with a body: %d %s, want 400 invalid_request naming %s", tc.method, tc.path, code, body, tc.field)
		}
		if h.engine.last.Username != "" || h.engine.last.TransactionID != "" {
			t.Errorf("%s %s reached the engine: %+v", tc.method, tc.path, h.engine.last)
		}
	}
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/enrollments?pretty", `{"username":"alice"}`); code != 200 || !strings.Contains(body, `"f1"`) {
		t.Errorf("POST enrollments?pretty: %d %s", code, body)
	}
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/validate?x=1", challenge); code != 200 || h.engine.last.TransactionID != "tx1" {
		t.Errorf("POST validate?x=1: %d %s", code, body)
	}
	// The same value in the query and the body is one value.
	h.engine.last = provider.Request{}
	if code, body, _ := h.do(t, "POST", "/v1/providers/acme/enrollments?username=alice", `{"username":"alice"}`); code != 200 || !strings.Contains(body, `"f1"`) || h.engine.last.Username != "alice" {
		t.Errorf("POST enrollments?username=alice with alice's body: %d %s", code, body)
	}
	if code, body, _ := h.do(t, "GET", "/v1/providers/acme/result?transactionId=tx1&username=alice&capability=totp&id=f1", challenge); code != 200 || h.engine.last.TransactionID != "tx1" {
		t.Errorf("GET result with the body's values in the query too: %d %s", code, body)
	}
}
