package adapter

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/provider"
)

// fakeDevices records what the device API hands over and answers from fields.
type fakeDevices struct {
	mu        sync.Mutex
	reg       provider.DeviceRegistration
	signed    provider.SignedDeviceRequest
	answered  [3]string // device, challenge, decision
	number    *int
	regErr    error
	authErr   error
	answerErr error
	pending   []provider.DeviceChallenge
}

func (f *fakeDevices) Register(_ context.Context, r provider.DeviceRegistration) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reg = r
	return "dev-1", f.regErr
}

func (f *fakeDevices) Authenticate(_ context.Context, r provider.SignedDeviceRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signed = r
	return f.authErr
}

func (f *fakeDevices) Pending(context.Context, string) ([]provider.DeviceChallenge, error) {
	return f.pending, nil
}

func (f *fakeDevices) Answer(_ context.Context, device, challenge string, d provider.Decision, number *int) (provider.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answered = [3]string{device, challenge, string(d)}
	f.number = number
	return provider.StatusSuccess, f.answerErr
}

func deviceHarness(t *testing.T) (*harness, *fakeDevices) {
	d := &fakeDevices{}
	return newHarness(t, func(o *Options) { o.Devices = d }), d
}

// signedHeaders are a device's headers (the fake does not check the signature).
var signedHeaders = []string{HeaderDeviceID, "dev-1", HeaderTimestamp, "1767225600", HeaderNonce, "nonce-nonce-nonce-1", HeaderSignature, "c2ln"}

func errorID(t *testing.T, body string) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.MessageID == "" || e.MessageDescription == "" {
		t.Fatalf("not a JSON error body: %s", body)
	}
	return e.MessageID
}

func TestDeviceRoutesOnlyWithDevices(t *testing.T) {
	h := newHarness(t, nil)
	code, body, _ := h.do(t, "GET", "/v1/devices/challenges", "", signedHeaders...)
	if code != http.StatusNotFound || errorID(t, body) != "not_found" {
		t.Errorf("device API without a device service: %d %s", code, body)
	}
}

func TestDeviceRegister(t *testing.T) {
	h, d := deviceHarness(t)
	good := `{"activationCode":"abc","publicKey":"MFkw","alg":"ES256","name":"Pixel 8","extra":1}`
	// No Verify credentials: the activation code is the credential.
	code, body, _ := h.do(t, "POST", "/v1/devices/register", good, "X-None", "")
	if code != http.StatusCreated || body != `{"deviceId":"dev-1"}` {
		t.Fatalf("register: %d %s", code, body)
	}
	if d.reg != (provider.DeviceRegistration{ActivationCode: "abc", PublicKey: "MFkw", Alg: "ES256", Name: "Pixel 8"}) {
		t.Errorf("handed over %+v", d.reg)
	}
	for _, c := range []struct {
		name, body string
		err        error
		status     int
		id         string
	}{
		{"used code", good, fmt.Errorf("%w: code already SUCCESS", provider.ErrActivation), 401, "unauthorized"},
		{"unknown code", good, fmt.Errorf("%w: unknown code", provider.ErrActivation), 401, "unauthorized"},
		{"bad key", good, fmt.Errorf("%w: publicKey is not an ES256 key", provider.ErrInvalidDeviceRequest), 400, "invalid_request"},
		{"store down", good, errors.New("db gone"), 503, "unavailable"},
		{"missing code", `{"publicKey":"MFkw","alg":"ES256"}`, nil, 400, "invalid_request"},
		{"not JSON", `{"activationCode":`, nil, 400, "invalid_request"},
		{"too large", `{"activationCode":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, "body_too_large"},
	} {
		d.regErr = c.err
		code, body, _ := h.do(t, "POST", "/v1/devices/register", c.body, "X-None", "")
		if code != c.status || errorID(t, body) != c.id {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.id)
		}
	}
	// Used and unknown codes answer alike; the reason is in the log only.
	_, used, _ := h.do(t, "POST", "/v1/devices/register", good, "X-None", "")
	if !strings.Contains(h.logs.String(), "unknown code") || strings.Contains(used, "unknown") {
		t.Errorf("reason leaked or not logged: %s", used)
	}
	if strings.Contains(h.logs.String(), `"abc"`) {
		t.Error("the activation code reached the log")
	}
}

func TestDeviceSignedCalls(t *testing.T) {
	h, d := deviceHarness(t)
	d.pending = []provider.DeviceChallenge{{ID: "ch1", User: "alice", Message: "Sign-in request for alice", NumberMatching: true}}
	code, body, _ := h.do(t, "GET", "/v1/devices/challenges", "", signedHeaders...)
	if code != 200 || !strings.HasPrefix(body, `{"challenges":[{"id":"ch1","user":"alice","message":"Sign-in request for alice","numberMatching":true,`) {
		t.Errorf("pending: %d %s", code, body)
	}
	want := provider.SignedDeviceRequest{DeviceID: "dev-1", Method: "GET", Path: "/v1/devices/challenges", Timestamp: "1767225600",
		Nonce: "nonce-nonce-nonce-1", Signature: "c2ln", BodySHA256: sha256.Sum256(nil)}
	if d.signed != want {
		t.Errorf("handed over %+v, want %+v", d.signed, want)
	}

	answer := `{"decision":"approve","number":42}`
	code, body, _ = h.do(t, "POST", "/v1/devices/challenges/ch1", answer, signedHeaders...)
	if code != 200 || body != `{"status":"SUCCESS"}` {
		t.Errorf("answer: %d %s", code, body)
	}
	if d.answered != [3]string{"dev-1", "ch1", "approve"} || d.number == nil || *d.number != 42 {
		t.Errorf("answer handed over %v %v", d.answered, d.number)
	}
	// The body the handler decoded is the body that was hashed.
	if d.signed.BodySHA256 != sha256.Sum256([]byte(answer)) || d.signed.Path != "/v1/devices/challenges/ch1" || d.signed.Method != "POST" {
		t.Errorf("signed %+v", d.signed)
	}

	for _, c := range []struct {
		name, body string
		err        error
		status     int
		id         string
	}{
		{"unknown challenge", answer, provider.ErrNoChallenge, 404, "not_found"},
		{"already answered", answer, fmt.Errorf("%w: SUCCESS", provider.ErrChallengeClosed), 409, "conflict"},
		{"unknown decision", `{"decision":"maybe"}`, fmt.Errorf("%w: decision must be approve, deny or cancel", provider.ErrInvalidDeviceRequest), 400, "invalid_request"},
		{"number not a number", `{"decision":"approve","number":"x"}`, nil, 400, "invalid_request"},
		{"store timeout", answer, context.DeadlineExceeded, 503, "unavailable"},
		{"too large", `{"decision":"` + strings.Repeat("a", 2000) + `"}`, nil, 413, "body_too_large"},
	} {
		d.answerErr = c.err
		code, body, _ := h.do(t, "POST", "/v1/devices/challenges/ch1", c.body, signedHeaders...)
		if code != c.status || errorID(t, body) != c.id {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, body, c.status, c.id)
		}
	}

	code, body, _ = h.do(t, "PUT", "/v1/devices/challenges/ch1", answer, signedHeaders...)
	if code != http.StatusMethodNotAllowed || errorID(t, body) != "method_not_allowed" {
		t.Errorf("wrong method: %d %s", code, body)
	}
}

func TestDeviceAuthRefused(t *testing.T) {
	h, d := deviceHarness(t)
	reasons := []string{"bad signature", "replayed nonce", "timestamp 2026-01-01T00:00:00Z is 6m0s from emfa's clock", "unknown device"}
	var first string
	for i, reason := range reasons {
		d.authErr = fmt.Errorf("%w: %s", provider.ErrDeviceAuth, reason)
		code, body, _ := h.do(t, "POST", "/v1/devices/challenges/ch1", `{"decision":"approve"}`, signedHeaders...)
		if code != http.StatusUnauthorized || errorID(t, body) != "unauthorized" {
			t.Errorf("%s: %d %s", reason, code, body)
		}
		if i == 0 {
			first = body
		} else if body != first {
			t.Errorf("refusals differ: %s vs %s", body, first)
		}
		if !strings.Contains(h.logs.String(), reason) {
			t.Errorf("reason %q not logged", reason)
		}
	}
	if d.answered != [3]string{} {
		t.Error("an unauthenticated answer reached the service")
	}
	// Verify's credentials are no device credentials.
	d.authErr = fmt.Errorf("%w: missing signature headers", provider.ErrDeviceAuth)
	if code, _, _ := h.do(t, "GET", "/v1/devices/challenges", ""); code != http.StatusUnauthorized {
		t.Errorf("Basic credentials on the device API: %d", code)
	}
	// A fault is not a refusal.
	d.authErr = errors.New("store down")
	if code, body, _ := h.do(t, "GET", "/v1/devices/challenges", "", signedHeaders...); code != 503 || errorID(t, body) != "unavailable" {
		t.Errorf("store fault: %d %s", code, body)
	}
	if h.srv.AuthFailures() != int64(len(reasons)+1) {
		t.Errorf("auth failures counted: %d", h.srv.AuthFailures())
	}
}
