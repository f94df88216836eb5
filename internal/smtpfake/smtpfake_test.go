package smtpfake_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

func sender(t *testing.T, s *smtpfake.Server, mode, user, pass string) *delivery.SMTP {
	t.Helper()
	snd, err := delivery.NewSMTP(delivery.SMTPOptions{
		Host: s.Host(), Port: s.Port(), TLS: mode, From: "emfa <otp@example.com>",
		Username: user, Password: config.Secret(pass), AllowPlaintextAuth: mode == smtpfake.TLSNone && user != "",
		RootCAs: s.CertPool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return snd
}

func TestModes(t *testing.T) {
	for _, mode := range []string{smtpfake.TLSNone, smtpfake.TLSStartTLS, smtpfake.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			s := smtpfake.Start(t, smtpfake.Options{TLS: mode, Username: "relay", Password: "pw"})
			msg := delivery.Message{To: "Alice@Example.com", Subject: "Your sign-in code — ünïcode",
				Text: "Your code is 123456.\nIt expires in 5 minutes. Ünïcode and a long line " + strings.Repeat("x", 100), Code: "123456"}
			if err := sender(t, s, mode, "relay", "pw").Send(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			got := s.To("alice@example.com")
			if len(got) != 1 {
				t.Fatalf("messages: %+v", s.Messages())
			}
			m := got[0]
			text, err := m.Text()
			if err != nil || text != msg.Text && text != msg.Text+"\n" {
				t.Errorf("text %q %v", text, err)
			}
			if m.Subject() != msg.Subject || m.From != "otp@example.com" || m.User != "relay" || m.TLS != (mode != smtpfake.TLSNone) {
				t.Errorf("message %+v subject %q", m, m.Subject())
			}
			if !strings.Contains(s.Trace(), "AUTH PLAIN") {
				t.Error("no AUTH in the trace")
			}
		})
	}
}

func TestAuthRequired(t *testing.T) {
	s := smtpfake.Start(t, smtpfake.Options{TLS: smtpfake.TLSStartTLS, Username: "relay", Password: "pw"})
	if err := sender(t, s, smtpfake.TLSStartTLS, "relay", "wrong").Send(context.Background(), delivery.Message{To: "a@example.com", Text: "x"}); err == nil {
		t.Error("wrong password accepted")
	}
	if err := sender(t, s, smtpfake.TLSStartTLS, "", "").Send(context.Background(), delivery.Message{To: "a@example.com", Text: "x"}); err == nil {
		t.Error("no authentication accepted")
	}
	if len(s.Messages()) != 0 {
		t.Error("kept a refused message")
	}
}

func TestReject(t *testing.T) {
	s := smtpfake.Start(t, smtpfake.Options{})
	s.Reject("gone@example.com", true)
	snd := sender(t, s, smtpfake.TLSNone, "", "")
	err := snd.Send(context.Background(), delivery.Message{To: "gone@example.com", Text: "x"})
	if err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("rejected recipient: %v", err)
	}
	// The reply quotes the address, as Postfix's does (the sender masks it in its error).
	if want := "550 5.1.1 <gone@example.com>: Recipient address rejected"; !strings.Contains(s.Trace(), want) {
		t.Errorf("no %q in the session:\n%s", want, s.Trace())
	}
	s.Reject("gone@example.com", false)
	if err := snd.Send(context.Background(), delivery.Message{To: "gone@example.com", Text: "x"}); err != nil {
		t.Errorf("accepted again: %v", err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Errorf("%d messages", n)
	}
}

func TestConcurrent(t *testing.T) {
	s := smtpfake.Start(t, smtpfake.Options{})
	snd := sender(t, s, smtpfake.TLSNone, "", "")
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() { errs <- snd.Send(context.Background(), delivery.Message{To: "a@example.com", Text: "x"}) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(s.Messages()); n != 20 {
		t.Errorf("%d messages", n)
	}
}
