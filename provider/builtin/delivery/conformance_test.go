package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
)

// delivered is a message as it arrived: its recipient and the text that holds the code.
type delivered struct {
	To   string
	Text string
}

// senderUnderTest is one Sender with the channels it must serve and a look at what it
// delivered.
type senderUnderTest struct {
	sender    Sender
	channels  []Channel
	delivered func() []delivered
}

// TestConformance runs the one suite every Sender passes.
func TestConformance(t *testing.T) {
	t.Parallel()
	suts := map[string]func(t *testing.T) senderUnderTest{
		"smtp": func(t *testing.T) senderUnderTest {
			srv := smtpfake.Start(t, smtpfake.Options{TLS: TLSStartTLS, Username: smtpUser, Password: smtpPassword})
			o := optionsFor(srv, TLSStartTLS)
			o.Username, o.Password = smtpUser, smtpPassword
			return senderUnderTest{
				sender:   newTestSMTP(t, o),
				channels: []Channel{Email},
				delivered: func() []delivered {
					var out []delivered
					for _, r := range srv.Messages() {
						p, _ := parseReceived(t, r)
						out = append(out, delivered{To: p.To, Text: p.Body})
					}
					return out
				},
			}
		},
		"twilio": func(t *testing.T) senderUnderTest {
			fake, srv := startTwilioFake(t, nil)
			return senderUnderTest{
				sender:   newTestTwilio(t, srv.URL),
				channels: []Channel{SMS},
				delivered: func() []delivered {
					var out []delivered
					for _, f := range fake.received() {
						out = append(out, delivered{To: f.Get("To"), Text: f.Get("Body")})
					}
					return out
				},
			}
		},
		"http": func(t *testing.T) senderUnderTest {
			fake := &gatewayFake{}
			srv := startGateway(t, fake)
			h, err := NewHTTP(HTTPOptions{URL: srv.URL, Body: `{"to": to, "text": message}`})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(h.Close)
			return senderUnderTest{
				sender:   h,
				channels: []Channel{SMS, Email},
				delivered: func() []delivered {
					var out []delivered
					for _, r := range fake.received() {
						var d delivered
						if err := json.Unmarshal([]byte(r.Body), &d); err != nil {
							t.Fatal(err)
						}
						out = append(out, d)
					}
					return out
				},
			}
		},
		"log": func(t *testing.T) senderUnderTest {
			var mu sync.Mutex
			var buf bytes.Buffer
			logger := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, nil))
			return senderUnderTest{
				sender:   NewLog(logger),
				channels: []Channel{SMS, Email},
				delivered: func() []delivered {
					mu.Lock()
					defer mu.Unlock()
					var out []delivered
					for line := range strings.Lines(buf.String()) {
						var rec struct{ To, Code string }
						if err := json.Unmarshal([]byte(line), &rec); err != nil {
							t.Fatal(err)
						}
						out = append(out, delivered{To: rec.To, Text: rec.Code})
					}
					return out
				},
			}
		},
	}
	for name, newSUT := range suts {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSender(t, newSUT)
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// recipient is the i-th test recipient on the sender's channel.
func recipient(s Sender, i int) string {
	if s.Serves(Email) {
		return fmt.Sprintf("user%d@example.com", i)
	}
	return fmt.Sprintf("+1555123%04d", i)
}

func testSender(t *testing.T, newSUT func(t *testing.T) senderUnderTest) {
	t.Run("kind and channels", func(t *testing.T) {
		t.Parallel()
		sut := newSUT(t)
		if k := sut.sender.Kind(); k == "" || k != strings.ToLower(k) {
			t.Errorf("Kind() = %q, want a lower-case name", k)
		}
		for _, c := range []Channel{SMS, Email, "fax"} {
			want := false
			for _, s := range sut.channels {
				want = want || s == c
			}
			if got := sut.sender.Serves(c); got != want {
				t.Errorf("Serves(%q) = %v, want %v", c, got, want)
			}
		}
	})
	t.Run("delivers the code", func(t *testing.T) {
		t.Parallel()
		sut := newSUT(t)
		m := Message{To: recipient(sut.sender, 1), Subject: "Your code", Text: "Your code is 246810", Code: "246810", User: "alice"}
		if err := sut.sender.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		got := sut.delivered()
		if len(got) != 1 || got[0].To != m.To || !strings.Contains(got[0].Text, m.Code) {
			t.Errorf("delivered %+v, want one message to %s holding %s", got, m.To, m.Code)
		}
	})
	t.Run("concurrent sends", func(t *testing.T) {
		t.Parallel()
		sut := newSUT(t)
		const n = 16
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				code := fmt.Sprintf("%06d", i)
				errs[i] = sut.sender.Send(t.Context(), Message{To: recipient(sut.sender, i), Subject: "Code", Text: "Code " + code, Code: code, User: "u"})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, d := range sut.delivered() {
			seen[d.To] = true
		}
		if len(seen) != n {
			t.Errorf("%d distinct recipients reached, want %d", len(seen), n)
		}
	})
	t.Run("canceled context", func(t *testing.T) {
		t.Parallel()
		sut := newSUT(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := sut.sender.Send(ctx, Message{To: recipient(sut.sender, 2), Subject: "Code", Text: "Code 135790", Code: "135790"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if err != nil {
			checkErrorHygiene(t, err, sut.sender.Kind()+": ", "135790")
		}
		if got := sut.delivered(); len(got) != 0 {
			t.Errorf("delivered %+v after cancellation", got)
		}
	})
}
