package builtin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// Two enrollments side by side, each reading the user's factors before the other's
// commit, cannot store two question factors, nor two factors of a type for one address:
// the rule is held where the factor is written, as maxFactorsPerUser is.
func TestDuplicateHeldAgainstConcurrentEnrollment(t *testing.T) {
	for _, c := range []struct {
		name         string
		inner, outer builtin.Enrollment
	}{
		{"question", questionEnrollment("alice", questionPairs), questionEnrollment("alice", questionPairs)},
		{"phone", enrollment("smsotp", "alice", "phone", "+15551230123"), enrollment("smsotp", "alice", "phone", "+15551230123")},
		{"address", enrollment("emailotp", "alice", "email", "alice@example.com"), enrollment("emailotp", "alice", "email", "ALICE@example.com")},
	} {
		t.Run(c.name, func(t *testing.T) {
			testdb.ForEach(t, func(t *testing.T, st store.Store) {
				ctx := context.Background()
				hooked := &listedBefore{Store: st}
				f := newEngineFixture(t, hooked, nil)
				var inner error
				hooked.between = func() { _, inner = f.engine.Enroll(ctx, c.inner) }
				_, outer := f.engine.Enroll(ctx, c.outer)
				if inner != nil {
					t.Fatalf("the enrollment between: %v", inner)
				}
				if !errors.Is(outer, builtin.ErrDuplicate) {
					t.Errorf("the enrollment that read the factors before the other's commit: %v, want %v", outer, builtin.ErrDuplicate)
				}
				if list, _ := st.ListFactors(ctx, "u-alice"); len(list) != 1 {
					t.Errorf("alice has %d factors, want 1", len(list))
				}
			})
		})
	}
	// Other types and other addresses are not alike.
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		f.enrollSMS(t, "alice", "+15551230123")
		f.enroll(t, "voicecall", "alice", "phone", "+15551230123")
		f.enrollSMS(t, "alice", "+15551230124")
		f.enrollSMS(t, "bob", "+15551230123")
		f.enrollQuestions(t, "bob")
		f.enrollQuestions(t, "alice")
	})
}
