package delivery

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/secretscan"
)

// logJSON logs v under key through a JSON handler and returns the line.
func logJSON(t *testing.T, key string, v any) string {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("test", key, v)
	return buf.String()
}

func x509EmptyPool() *x509.CertPool { return x509.NewCertPool() }

func TestMessageLogValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    Message
		want map[string]any
	}{
		{
			name: "sms",
			m:    Message{To: "+15551230123", Text: "Your code is 918273", Code: "918273", User: "alice"},
			want: map[string]any{"to": "+1 ***-***-0123", "subject": "", "user": "alice"},
		},
		{
			name: "email",
			m:    Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 918273", Code: "918273", User: "alice"},
			want: map[string]any{"to": "a***@example.com", "subject": "Your code", "user": "alice"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			line := logJSON(t, "message", tt.m)
			if secretscan.Holds(line, "918273") { // not strings.Contains: the line's time has random nanoseconds
				t.Errorf("code logged: %s", line)
			}
			var got struct {
				Message map[string]any `json:"message"`
			}
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got.Message); diff != "" {
				t.Errorf("logged message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err       StatusError
		want      string
		temporary bool
	}{
		{StatusError{Status: 400, Code: 21211, Message: "Invalid 'To' Phone Number"}, "status 400 code 21211: Invalid 'To' Phone Number", false},
		{StatusError{Status: 429}, "status 429", true},
		{StatusError{Status: 503, Message: "Service Unavailable"}, "status 503: Service Unavailable", true},
		{StatusError{Status: 302}, "status 302", false},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		if got := tt.err.Temporary(); got != tt.temporary {
			t.Errorf("%s: Temporary() = %v", tt.want, got)
		}
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc…"},
		{"ääää", 3, "ä…"}, // never half a rune
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestLogSender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := l.Send(t.Context(), Message{To: "+15551230123", Text: "Your code is 112233", Code: "112233", User: "alice"}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "time")
	if msg, _ := got["msg"].(string); !strings.Contains(msg, "DEVELOPMENT ONLY") {
		t.Errorf("message %q is not loud enough", msg)
	}
	delete(got, "msg")
	want := map[string]any{"level": "WARN", "to": "+15551230123", "user": "alice", "code": "112233"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log record (-want +got):\n%s", diff)
	}
}

// TestLogSenderWritesALink: a message with no code (a self-service activation link's mail)
// is logged with its subject and text, so that a developer can open the link; the record
// still says it is for development only.
func TestLogSenderWritesALink(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	link := "https://mfa.example.com/self-service/link/abc123"
	m := Message{To: "alice@example.com", Channel: Email, Subject: "Set up MFA", Text: "Open " + link, HTML: "<a>x</a>", User: "alice"}
	if err := l.Send(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	delete(got, "time")
	if msg, _ := got["msg"].(string); !strings.Contains(msg, "DEVELOPMENT ONLY") {
		t.Errorf("message %q is not loud enough", msg)
	}
	delete(got, "msg")
	want := map[string]any{"level": "WARN", "to": "alice@example.com", "user": "alice", "subject": "Set up MFA", "text": "Open " + link}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log record (-want +got):\n%s", diff)
	}
}
