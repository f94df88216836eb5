package adapter

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestConcurrentInitiatesOneUser: two replicas start a code for one user's factor
// at once (Verify's user pressing twice, each on another replica), their sends under way
// together and ending together. Each answers PENDING with its own transaction; the older
// challenges are withdrawn, whichever unit commits first: one challenge stays pending,
// its code validates, and the other one's is FAILED. Neither withdraws both (a user with
// no working code), neither leaves both.
func TestConcurrentInitiatesOneUser(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		ctx := context.Background()
		for round := range 3 {
			s.sms.mu.Lock()
			s.sms.entered, s.sms.gate = make(chan struct{}, 4), make(chan struct{})
			before := len(s.sms.codes)
			s.sms.mu.Unlock()
			type res struct {
				code int
				body string
			}
			ra, rb := make(chan res, 1), make(chan res, 1)
			ib := s.initiateBody("alice", s.factor)
			suffix := string(rune('a' + round))
			go func() { c, b := s.a.call(t, "initiate", "wh-ia"+suffix, ib); ra <- res{c, b} }()
			go func() { c, b := s.b.call(t, "initiate", "wh-ib"+suffix, ib); rb <- res{c, b} }()
			for range 2 {
				select {
				case <-s.sms.entered:
				case <-time.After(10 * time.Second):
					t.Fatal("the two sends did not start")
				}
			}
			close(s.sms.gate)
			a, b := <-ra, <-rb
			sa, txa := c59Answer(t, a.body)
			sb, txb := c59Answer(t, b.body)
			if a.code != 200 || b.code != 200 || sa != "PENDING" || sb != "PENDING" || txa == txb {
				t.Fatalf("round %d: A %d %s; B %d %s", round, a.code, a.body, b.code, b.body)
			}
			codes := s.sms.sent()[before:]
			if len(codes) != 2 {
				t.Fatalf("round %d: %d codes sent, want 2", round, len(codes))
			}
			pending, err := s.a.st.ListPendingTransactions(ctx, s.factor, s.clock.Now())
			if err != nil || len(pending) != 1 {
				t.Fatalf("round %d: pending challenges %+v %v; want one", round, pending, err)
			}
			keep, gone := txa, txb
			if pending[0].ID == "b:"+txb {
				keep, gone = txb, txa
			}
			// Which code belongs to which challenge is not known here: one of the two
			// validates the pending one; neither validates the withdrawn one.
			for _, c := range codes {
				if c2, body := s.b.call(t, "validate", "", s.validateBody("alice", s.factor, gone, c)); c2 != 200 || !strings.Contains(body, `"FAILED"`) {
					t.Errorf("round %d: validate of the withdrawn challenge: %d %s", round, c2, body)
				}
			}
			ok := 0
			for _, c := range codes {
				if _, body := s.a.call(t, "validate", "", s.validateBody("alice", s.factor, keep, c)); strings.Contains(body, `"SUCCESS"`) {
					ok++
				}
			}
			if ok != 1 {
				t.Errorf("round %d: %d codes validated the pending challenge, want 1", round, ok)
			}
		}
	})
}
