package delivery

import (
	"fmt"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// BenchmarkSMTPSend is one whole SMTP session per message, as Send makes it, against a
// loopback go-smtp server: connect, greeting, EHLO, (STARTTLS and a TLS 1.3 handshake,
// AUTH PLAIN,) MAIL, RCPT, DATA, QUIT.
func BenchmarkSMTPSend(b *testing.B) {
	for _, bc := range []struct {
		name string
		mode string
		auth bool
	}{
		{"none", TLSNone, false},
		{"starttls+auth", TLSStartTLS, true},
		{"tls+auth", TLSImplicit, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			so := smtpfake.Options{TLS: bc.mode}
			if bc.auth {
				so.Username, so.Password = smtpUser, smtpPassword
			}
			srv := smtpfake.Start(b, so)
			o := optionsFor(srv, bc.mode)
			if bc.auth {
				o.Username, o.Password = smtpUser, smtpPassword
			}
			s := newTestSMTP(b, o)
			m := Message{To: "alice@example.com", Subject: "Your code", Text: "Your code is 123456", Code: "123456"}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Send(b.Context(), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTwilioSend is one Messages request against the loopback fake, over pooled
// connections, one caller at a time and with GOMAXPROCS callers.
func BenchmarkTwilioSend(b *testing.B) {
	_, srv := startTwilioFake(b, nil)
	tw := newTestTwilio(b, srv.URL)
	m := Message{To: "+15551230123", Text: "Your code is 123456", Code: "123456"}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := tw.Send(b.Context(), m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := tw.Send(b.Context(), m); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkHTTPSend is one gateway request with a CEL body against a loopback server.
func BenchmarkHTTPSend(b *testing.B) {
	srv := startGateway(b, &gatewayFake{})
	h, err := NewHTTP(HTTPOptions{URL: srv.URL, Body: `{"to": to, "text": message, "ref": user}`})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Close)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := h.Send(b.Context(), Message{To: "+15551230123", Text: "Your code is 123456", Code: "123456", User: fmt.Sprint(i)}); err != nil {
			b.Fatal(err)
		}
	}
}
