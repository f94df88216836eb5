package builtin_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// callLog is a store that notes the name of every read enrollments makes.
type callLog struct {
	store.Store
	mu    sync.Mutex
	calls []string
}

func (c *callLog) note(name string) {
	c.mu.Lock()
	c.calls = append(c.calls, name)
	c.mu.Unlock()
}

func (c *callLog) GetUser(ctx context.Context, name string) (store.User, error) {
	c.note("GetUser")
	return c.Store.GetUser(ctx, name)
}

func (c *callLog) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	c.note("ListFactors")
	return c.Store.ListFactors(ctx, userID)
}

func (c *callLog) ListEnabledFactors(ctx context.Context, name string) ([]store.Factor, error) {
	c.note("ListEnabledFactors")
	return c.Store.ListEnabledFactors(ctx, name)
}

func (c *callLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = nil
	return out
}

// TestEnrollmentsSameCallsForEveryEmptyAnswer is issue 15 item 7: an unknown user, a
// disabled one and one without factors all answer [] — and must take the same store
// calls, or the time taken tells an attacker which names exist.
func TestEnrollmentsSameCallsForEveryEmptyAnswer(t *testing.T) {
	ctx := context.Background()
	st := &callLog{Store: testdb.SQLite(t)}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"totp"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1767225600, 0)
	for _, u := range []store.User{{ID: "u1", Name: "nofactors", CreatedAt: now}, {ID: "u2", Name: "off", CreatedAt: now}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetUserDisabled(ctx, "off", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Enroll(ctx, builtin.Enrollment{Type: builtin.TypeTOTP, User: "off"}); err != nil {
		t.Fatal(err)
	}
	st.take()
	var want []string
	for _, name := range []string{"nofactors", "nobody", "off"} {
		list, err := e.Enrollments(ctx, name)
		if err != nil || len(list) != 0 {
			t.Fatalf("%s: %v %v, want no enrollments", name, list, err)
		}
		got := st.take()
		if want == nil {
			want = got
		} else if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: store calls differ from a user without factors (-want +got):\n%s", name, diff)
		}
	}
}
