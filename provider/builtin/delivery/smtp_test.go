package delivery

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/smtpfake"
)

const (
	smtpUser     = "relay-user"
	smtpPassword = "s3cret-Relay-Pa55"
)

var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// newTestSMTP is NewSMTP for a test server, with the fixed clock.
func newTestSMTP(t testing.TB, o SMTPOptions) *SMTP {
	t.Helper()
	s, err := NewSMTP(o)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	return s
}

// optionsFor points SMTP options at srv, trusting its certificate.
func optionsFor(srv *smtpfake.Server, mode string) SMTPOptions {
	return SMTPOptions{
		Host:    srv.Host(),
		Port:    srv.Port(),
		TLS:     mode,
		From:    "Example OTP <otp@example.com>",
		RootCAs: srv.CertPool(),
		Timeout: 5 * time.Second,
	}
}

// parsedMail is what a test checks of a received message.
type parsedMail struct {
	EnvelopeFrom string
	EnvelopeTo   []string
	TLS          bool
	User         string
	From         string
	To           string
	Subject      string
	Body         string
}

func parseReceived(t *testing.T, r smtpfake.Message) (parsedMail, netmail.Header) {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(r.Data))
	if err != nil {
		t.Fatalf("received message: %v\n%s", err, r.Data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	from, err := msg.Header.AddressList("From")
	if err != nil || len(from) != 1 {
		t.Fatalf("From %q: %v", msg.Header.Get("From"), err)
	}
	to, err := msg.Header.AddressList("To")
	if err != nil || len(to) != 1 {
		t.Fatalf("To %q: %v", msg.Header.Get("To"), err)
	}
	return parsedMail{
		EnvelopeFrom: r.From,
		EnvelopeTo:   r.To,
		TLS:          r.TLS,
		User:         r.User,
		From:         from[0].String(),
		To:           to[0].Address,
		Subject:      subject,
		Body:         strings.TrimRight(string(b), "\r\n"),
	}, msg.Header
}

var messageIDPattern = regexp.MustCompile(`^<[a-z2-7]{32}@example\.com>$`)

func TestSMTPSend(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      string
		auth      bool
		plainAuth bool
		subject   string
		text      string
	}{
		{name: "none", mode: TLSNone, subject: "Your code", text: "Your code is 123456"},
		{name: "none with plaintext auth allowed", mode: TLSNone, auth: true, plainAuth: true, subject: "Your code", text: "Your code is 123456"},
		{name: "starttls", mode: TLSStartTLS, subject: "Your code", text: "Your code is 123456"},
		{name: "starttls with auth", mode: TLSStartTLS, auth: true, subject: "Your code", text: "Your code is 123456"},
		{name: "implicit tls with auth", mode: TLSImplicit, auth: true, subject: "Your code", text: "Your code is 123456"},
		{name: "utf-8", mode: TLSStartTLS, auth: true, subject: "Ihr Bestätigungscode", text: "Ihr Code lautet 123456 – gültig für 5 Minuten.\nNicht weitergeben."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			so := smtpfake.Options{TLS: tt.mode}
			if tt.auth {
				so.Username, so.Password = smtpUser, smtpPassword
			}
			srv := smtpfake.Start(t, so)
			o := optionsFor(srv, tt.mode)
			if tt.auth {
				o.Username, o.Password = smtpUser, smtpPassword
				o.AllowPlaintextAuth = tt.plainAuth
			}
			s := newTestSMTP(t, o)
			err := s.Send(t.Context(), Message{
				To: "Alice@Example.COM", Subject: tt.subject, Text: tt.text, Code: "123456", User: "alice",
			})
			if err != nil {
				t.Fatal(err)
			}
			got := srv.Messages()
			if len(got) != 1 {
				t.Fatalf("received %d messages, want 1", len(got))
			}
			parsed, header := parseReceived(t, got[0])
			want := parsedMail{
				EnvelopeFrom: "otp@example.com",
				EnvelopeTo:   []string{"Alice@example.com"},
				TLS:          tt.mode != TLSNone,
				From:         `"Example OTP" <otp@example.com>`,
				To:           "Alice@example.com",
				Subject:      tt.subject,
				Body:         strings.ReplaceAll(tt.text, "\n", "\r\n"),
			}
			if tt.auth {
				want.User = smtpUser
			}
			if diff := cmp.Diff(want, parsed); diff != "" {
				t.Errorf("received message (-want +got):\n%s", diff)
			}
			if id := header.Get("Message-Id"); !messageIDPattern.MatchString(id) {
				t.Errorf("Message-ID %q, want %s", id, messageIDPattern)
			}
			if date, err := header.Date(); err != nil || !date.Equal(fixedNow) {
				t.Errorf("Date %q (%v), want %s", header.Get("Date"), err, fixedNow)
			}
			if ua := header.Get("User-Agent") + header.Get("X-Mailer"); ua != "" {
				t.Errorf("mailer header %q, want none", ua)
			}
			// The client ends its session: no connection left for the server to time out.
			if trace := srv.Trace(); !strings.Contains(trace, "QUIT") {
				t.Errorf("no QUIT in the session:\n%s", trace)
			}
		})
	}
}

// smtpTarget is what a sender is pointed at: its options, the server (nil when there is
// none to check) and, for a silent server, where its closed connections are reported.
type smtpTarget struct {
	o      SMTPOptions
	srv    *smtpfake.Server
	closed <-chan struct{}
}

func TestSMTPSendErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   func(t *testing.T) smtpTarget
		to      string
		subject string
		timeout time.Duration // of the caller's context; none when 0
		within  time.Duration // the error comes at most this late
		check   func(t *testing.T, err error)
	}{
		{
			name: "wrong password",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS, Username: smtpUser, Password: smtpPassword})
				o := optionsFor(srv, TLSStartTLS)
				o.Username, o.Password = smtpUser, "wrong-"+smtpPassword
				return smtpTarget{o: o, srv: srv}
			},
			check: wantErrorContaining("535"),
		},
		{
			name: "no credentials where the server wants them",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS, Username: smtpUser, Password: smtpPassword})
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			check: wantErrorContaining("authenticate"),
		},
		{
			name: "recipient refused",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
				srv.Reject("bob@rejected.example", true)
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			// The server quotes the recipient, as Postfix does, and go-mail names it again;
			// the error shows it masked, twice, and keeps the Message-ID, which names no one.
			to: "Bob@Rejected.example",
			check: func(t *testing.T, err error) {
				wantErrorContaining("550 \"5.1.1 <B***@rejected.example>: Recipient address rejected")(t, err)
				wantErrorContaining("affected recipient(s): <B***@rejected.example>")(t, err)
				if !regexp.MustCompile(`affected message ID: <[a-z2-7]{32}@example\.com>`).MatchString(err.Error()) {
					t.Errorf("error %q does not keep the Message-ID", err)
				}
			},
		},
		{
			name: "content refused",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
				srv.RejectContent(true)
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			// A content filter quotes the body, code and all: the error, which becomes the
			// audit reason and a log line, keeps the refusal but not the code.
			check: func(t *testing.T, err error) {
				wantErrorContaining("554")(t, err)
				wantErrorContaining("Message content rejected: Your code is ******")(t, err)
				if err != nil && strings.Contains(err.Error(), "654321") {
					t.Errorf("error %q quotes the code", err)
				}
			},
		},
		{
			name: "starttls not offered",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSNone})
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			check: wantErrorContaining("STARTTLS"),
		},
		{
			name: "untrusted certificate",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
				o := optionsFor(srv, TLSStartTLS)
				o.RootCAs = x509EmptyPool()
				return smtpTarget{o: o, srv: srv}
			},
			check: wantErrorContaining("certificate"),
		},
		{
			name: "implicit tls to a plaintext server",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSNone})
				return smtpTarget{o: optionsFor(srv, TLSImplicit), srv: srv}
			},
			check: wantErrorContaining("tls"),
		},
		{
			name: "connection refused",
			setup: func(t *testing.T) smtpTarget {
				return smtpTarget{o: SMTPOptions{Host: "127.0.0.1", Port: closedPort(t), TLS: TLSStartTLS, From: "otp@example.com"}}
			},
			within: 2 * time.Second,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Errorf("error %v, want ECONNREFUSED", err)
				}
			},
		},
		{
			name: "silent server, caller's deadline",
			setup: func(t *testing.T) smtpTarget {
				host, port, closed := silentServer(t)
				return smtpTarget{o: SMTPOptions{Host: host, Port: port, TLS: TLSStartTLS, From: "otp@example.com", Timeout: time.Minute}, closed: closed}
			},
			timeout: 200 * time.Millisecond,
			within:  3 * time.Second,
			check:   wantDeadline,
		},
		{
			name: "silent server, sender's timeout",
			setup: func(t *testing.T) smtpTarget {
				host, port, closed := silentServer(t)
				return smtpTarget{o: SMTPOptions{Host: host, Port: port, TLS: TLSStartTLS, From: "otp@example.com", Timeout: 200 * time.Millisecond}, closed: closed}
			},
			within: 3 * time.Second,
			check:  wantDeadline,
		},
		{
			name: "silent server, implicit tls handshake",
			setup: func(t *testing.T) smtpTarget {
				host, port, closed := silentServer(t)
				return smtpTarget{o: SMTPOptions{Host: host, Port: port, TLS: TLSImplicit, From: "otp@example.com", Timeout: time.Minute}, closed: closed}
			},
			timeout: 200 * time.Millisecond,
			within:  3 * time.Second,
			check:   wantDeadline,
		},
		{
			name: "recipient not an address",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			to:    "Alice <alice@example.com>",
			check: wantErrorContaining("not an e-mail address"),
		},
		{
			name: "subject with a line break",
			setup: func(t *testing.T) smtpTarget {
				srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS})
				return smtpTarget{o: optionsFor(srv, TLSStartTLS), srv: srv}
			},
			subject: "Your code\r\nBcc: everyone@example.com",
			check:   wantErrorContaining("line break"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := tt.setup(t)
			s := newTestSMTP(t, target.o)
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			m := Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 654321", Code: "654321", User: "alice"}
			if tt.to != "" {
				m.To = tt.to
			}
			if tt.subject != "" {
				m.Subject = tt.subject
			}
			start := time.Now()
			err := s.Send(ctx, m)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			tt.check(t, err)
			checkErrorHygiene(t, err, "smtp: ", smtpPassword, "wrong-"+smtpPassword, "654321", "ob@rejected", "ob@Rejected", m.To)
			if tt.within > 0 && elapsed > tt.within {
				t.Errorf("error after %s, want within %s", elapsed, tt.within)
			}
			if target.srv != nil {
				if got := target.srv.Messages(); len(got) != 0 {
					t.Errorf("server received %d messages", len(got))
				}
			}
			if target.closed != nil {
				select {
				case <-target.closed:
				case <-time.After(2 * time.Second):
					t.Error("connection still open after Send returned")
				}
			}
		})
	}
}

func TestSMTPInsecureSkipVerify(t *testing.T) {
	t.Parallel()
	srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSImplicit})
	o := optionsFor(srv, TLSImplicit)
	o.RootCAs = nil
	o.InsecureSkipVerify = true
	if err := newTestSMTP(t, o).Send(t.Context(), Message{To: "alice@example.com", Text: "code 1"}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Errorf("received %d messages, want 1", n)
	}
}

func TestNewSMTP(t *testing.T) {
	t.Parallel()
	const password = config.Secret("hunter2-never-shown")
	tests := []struct {
		name     string
		o        SMTPOptions
		wantAddr string
		wantErrs []string // substrings of the error, all reported at once
	}{
		{name: "defaults to starttls on 587", o: SMTPOptions{Host: "smtp.example.com", From: "otp@example.com"}, wantAddr: "smtp.example.com:587"},
		{name: "tls defaults to 465", o: SMTPOptions{Host: "smtp.example.com", TLS: TLSImplicit, From: "otp@example.com"}, wantAddr: "smtp.example.com:465"},
		{name: "none defaults to 25", o: SMTPOptions{Host: "relay", TLS: TLSNone, From: "otp@example.com"}, wantAddr: "relay:25"},
		{name: "ipv6 literal", o: SMTPOptions{Host: "::1", Port: 2525, TLS: TLSNone, From: "otp@example.com"}, wantAddr: "[::1]:2525"},
		{name: "display name in from", o: SMTPOptions{Host: "smtp.example.com", From: "Example <otp@example.com>", Username: "u", Password: password}, wantAddr: "smtp.example.com:587"},
		{name: "plaintext auth allowed", o: SMTPOptions{Host: "relay", TLS: TLSNone, From: "otp@example.com", Username: "u", Password: password, AllowPlaintextAuth: true}, wantAddr: "relay:25"},
		{name: "unknown tls mode", o: SMTPOptions{Host: "smtp.example.com", TLS: "ssl", From: "otp@example.com"}, wantErrs: []string{"tls: want none, starttls or tls"}},
		{name: "no host", o: SMTPOptions{From: "otp@example.com"}, wantErrs: []string{"host"}},
		{name: "host with port", o: SMTPOptions{Host: "smtp.example.com:25", From: "otp@example.com"}, wantErrs: []string{"host"}},
		{name: "port out of range", o: SMTPOptions{Host: "smtp.example.com", Port: 70000, From: "otp@example.com"}, wantErrs: []string{"port 70000"}},
		{name: "from not an address", o: SMTPOptions{Host: "smtp.example.com", From: "one time codes"}, wantErrs: []string{"from"}},
		{name: "username without password", o: SMTPOptions{Host: "smtp.example.com", From: "otp@example.com", Username: "u"}, wantErrs: []string{"set both or neither"}},
		{name: "password in clear", o: SMTPOptions{Host: "relay", TLS: TLSNone, From: "otp@example.com", Username: "u", Password: password}, wantErrs: []string{"plaintext connection"}},
		{name: "plaintext flag with tls", o: SMTPOptions{Host: "smtp.example.com", From: "otp@example.com", Username: "u", Password: password, AllowPlaintextAuth: true}, wantErrs: []string{"allowPlaintextAuth"}},
		{name: "negative timeout", o: SMTPOptions{Host: "smtp.example.com", From: "otp@example.com", Timeout: -time.Second}, wantErrs: []string{"timeout"}},
		{name: "every problem at once", o: SMTPOptions{TLS: "ssl", Port: -1, From: "x", Username: "u"}, wantErrs: []string{"tls", "host", "port", "from", "set both"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := NewSMTP(tt.o)
			if len(tt.wantErrs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if s.addr != tt.wantAddr {
					t.Errorf("address %s, want %s", s.addr, tt.wantAddr)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErrs {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			checkErrorHygiene(t, err, "smtp: ", password.Reveal())
		})
	}
}

func TestSMTPOptionsLogValue(t *testing.T) {
	t.Parallel()
	out := logJSON(t, "options", SMTPOptions{Host: "smtp.example.com", Username: "u", Password: "hunter2", From: "otp@example.com"})
	if strings.Contains(out, "hunter2") {
		t.Errorf("password logged: %s", out)
	}
	if !strings.Contains(out, "smtp.example.com") {
		t.Errorf("host not logged: %s", out)
	}
}

func wantErrorContaining(s string) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func wantDeadline(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want context.DeadlineExceeded", err)
	}
}

// checkErrorHygiene checks that an error names its sender and holds none of the secrets.
func checkErrorHygiene(t *testing.T, err error, prefix string, secrets ...string) {
	t.Helper()
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		t.Errorf("error %q does not start with %q", msg, prefix)
	}
	for _, s := range secrets {
		if strings.Contains(msg, s) {
			t.Errorf("error %q holds the secret %q", msg, s)
		}
	}
}
