package lifecycle_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// TestEnrollUnsendableDomainIsEmailError: a mailbox whose domain IDNA refuses is
// refused at enrollment as the e-mail address it is (invalid_email, params.email), the
// field an admin client points its user at, not as a phone number.
func TestEnrollUnsendableDomainIsEmailError(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		_, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "emailotp", Params: raw(`{"email":"alice@bü_cher.example"}`)})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Code != "invalid_email" || le.Field != "params.email" {
			t.Errorf("EnrollFactor = %v (%+v), want invalid_email on params.email", err, le)
		}
	})
}
