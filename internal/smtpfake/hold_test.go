package smtpfake_test

import (
	"context"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// TestHold: a held message is neither taken nor answered until Release, one at a time;
// ReleaseAll lets every one through, those waiting and those to come.
func TestHold(t *testing.T) {
	s := smtpfake.Start(t, smtpfake.Options{})
	if s.Held() != nil {
		t.Fatal("Held before Hold")
	}
	s.Hold()
	snd := sender(t, s, smtpfake.TLSNone, "", "")
	results := make(chan error, 3)
	send := func(to string) {
		go func() {
			results <- snd.Send(context.Background(), delivery.Message{To: to, Subject: "code", Text: "Your code is 123456.", Code: "123456"})
		}()
	}
	send("alice@example.com")
	send("bob@example.com")
	held := map[string]bool{}
	for range 2 {
		m := testwait.Recv(t, "a message held", s.Held())
		held[m.To[0]] = true
	}
	if !held["alice@example.com"] || !held["bob@example.com"] {
		t.Fatalf("held: %v, want alice's and bob's", held)
	}
	select {
	case err := <-results:
		t.Fatalf("a held message was answered: %v", err)
	default:
	}
	if n := len(s.Messages()); n != 0 {
		t.Fatalf("%d messages taken while held", n)
	}
	s.Release()
	if err := testwait.Recv(t, "the released message answered", results); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Messages()); n != 1 {
		t.Fatalf("%d messages taken after one Release, want 1", n)
	}
	s.ReleaseAll()
	send("carol@example.com")
	for range 2 {
		if err := testwait.Recv(t, "a message answered after ReleaseAll", results); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("%d messages taken after ReleaseAll, want 3", n)
	}
}
