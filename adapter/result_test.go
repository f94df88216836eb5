package adapter

import (
	"strings"
	"sync"
	"testing"
)

// TestResultPollsUnderRetries: Verify polls result, each poll under its own
// X-Webhook-ID, and retries one (the same ID) on the other replica. A poll's retry gets
// the poll's own answer (PENDING), even after the challenge ended: it is that poll's
// answer, not a new poll; a new poll after the validate on the other replica gets the
// terminal status, and so does its retry; polls do not change the challenge (the code
// still works after many of them).
func TestResultPollsUnderRetries(t *testing.T) {
	c59Each(t, func(t *testing.T, s *c59Setup) {
		_, body := s.a.call(t, "initiate", "wh-i", s.initiateBody("alice", s.factor))
		_, tx := c59Answer(t, body)
		code := s.sms.sent()[0]
		vb := s.validateBody("alice", s.factor, tx, code)
		rb := `{"capability":"smsotp","id":"` + s.factor + `","transactionId":"` + tx + `","attributes":{"username":"alice"}}`
		c1, p1 := s.a.call(t, "result", "wh-r1", rb)
		if st, _ := c59Answer(t, p1); c1 != 200 || st != "PENDING" {
			t.Fatalf("first poll: %d %s", c1, p1)
		}
		// Polls at once on both replicas, new and retried.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, id := s.a, "wh-r1"
				if i%2 == 1 {
					r, id = s.b, "wh-rp"+string(rune('a'+i))
				}
				if c, b := r.call(t, "result", id, rb); c != 200 || !strings.Contains(b, `"PENDING"`) {
					t.Errorf("poll %d (%s): %d %s", i, id, c, b)
				}
			}()
		}
		wg.Wait()
		if c, b := s.b.call(t, "validate", "wh-v", vb); c != 200 || !strings.Contains(b, `"SUCCESS"`) {
			t.Fatalf("validate after the polls: %d %s", c, b)
		}
		if c, b := s.b.call(t, "result", "wh-r1", rb); c != c1 || b != p1 {
			t.Errorf("the first poll's retry after the validate: %d %s; want its own answer %d %s", c, b, c1, p1)
		}
		c2, p2 := s.b.call(t, "result", "wh-r2", rb)
		if st, _ := c59Answer(t, p2); c2 != 200 || st != "SUCCESS" {
			t.Errorf("a new poll after the validate on the other replica: %d %s; want SUCCESS", c2, p2)
		}
		if c, b := s.a.call(t, "result", "wh-r2", rb); c != c2 || b != p2 {
			t.Errorf("its retry on A: %d %s; want %d %s", c, b, c2, p2)
		}
	})
}
