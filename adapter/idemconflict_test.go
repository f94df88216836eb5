package adapter

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// overtakingStore commits another change of alice before each batch of user changes
// while overtake is above zero: other replicas' changes overtaking every write of hers.
type overtakingStore struct {
	store.Store
	overtake atomic.Int32
	n        atomic.Int32
}

func (s *overtakingStore) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	if s.overtake.Add(-1) >= 0 {
		p := store.Profile{DisplayName: fmt.Sprintf("other %d", s.n.Add(1))}
		if errs := s.Store.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Profile: &p, Now: time.Now()}}); errs[0] != nil {
			panic(errs[0])
		}
	}
	return s.Store.ApplyUserChanges(ctx, cs)
}

// TestIdempotencyKeyOvertakenRetried: a POST that other changes kept
// overtaking is answered 409 user_changed, "read it again and retry": nothing was done,
// as with a 5xx or a 429. Kept for its Idempotency-Key, every retry with that key (as a
// script retries, and the README asks it to) was answered the same 409 for
// server.idempotency.ttl, and the user was never disabled; the retry runs now.
func TestIdempotencyKeyOvertakenRetried(t *testing.T) {
	st := &overtakingStore{Store: testdb.SQLite(t)}
	clock := &fakeClock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	a := newIdemAdmin(t, st, clock)
	tok := a.token(t, "idm")
	if code, body, _ := a.post(t, tok, "", AdminPrefix+"/users", `{"name":"alice"}`); code != http.StatusCreated {
		t.Fatalf("create alice: %d %s", code, body)
	}
	st.overtake.Store(1000)
	code, body, _ := a.post(t, tok, "k-1", AdminPrefix+"/users/alice/disable", "")
	if code != http.StatusConflict {
		t.Fatalf("a disable overtaken every time: %d %s, want 409 user_changed", code, body)
	}
	st.overtake.Store(0)
	code, retried, _ := a.post(t, tok, "k-1", AdminPrefix+"/users/alice/disable", "")
	if code != http.StatusOK || !strings.Contains(retried, `"state":"disabled"`) {
		t.Errorf("its retry with the same key once nothing overtakes it: %d %s, want 200, disabled", code, retried)
	}
	// Once answered, the key's answer is kept: the same request again gets it.
	if code, again, _ := a.post(t, tok, "k-1", AdminPrefix+"/users/alice/disable", ""); code != http.StatusOK || again != retried {
		t.Errorf("the retry after the answer: %d %s, want %s", code, again, retried)
	}
}
