package adapter

import (
	"strings"
	"testing"
)

// TestAuth0ManagementBodiesOfAnyShape: a Management API call's request or response
// body is not always an object (PUT /api/v2/users/{id}/authentication-methods sends an
// array; linking an account, POST /api/v2/users/{id}/identities, answers one). Such an
// sapi entry is a well-formed log entry emfa does not act on: ignored, not refused as
// unreadable, so that a batch of them is not answered 400 (which Auth0 does not send
// again) and a batch beside them is not logged as refusing events.
func TestAuth0ManagementBodiesOfAnyShape(t *testing.T) {
	h := newSyncHarness(t)
	lines := strings.Join([]string{
		`{"log_id":"m1","type":"sapi","date":"2026-05-01T09:00:01.000Z","details":{"request":{"method":"PUT","path":"/api/v2/users/auth0|1/authentication-methods","body":[{"type":"phone","phone_number":"+15550100123"}]},"response":{"statusCode":200,"body":[{"id":"phone|1","type":"phone"}]}}}`,
		`{"log_id":"m2","type":"sapi","date":"2026-05-01T09:00:02.000Z","details":{"request":{"method":"POST","path":"/api/v2/users/auth0|1/identities","body":{"provider":"google-oauth2","user_id":"g-1"}},"response":{"statusCode":201,"body":[{"provider":"auth0","user_id":"1"}]}}}`,
	}, "\n")
	if code, body, _ := h.do("POST", Auth0Path, lines, "Authorization", testSecret); code != 204 {
		t.Fatalf("a batch of calls emfa does not act on: %d %v", code, body)
	}
	if n := h.srv.SyncCounts().Refused.Load(); n != 0 {
		t.Errorf("refused %d entries", n)
	}
	if n := h.srv.SyncCounts().Ignored.Load(); n != 2 {
		t.Errorf("ignored %d entries, want 2", n)
	}
}
