// Package storetest is the conformance suite for store.Store: every backend runs Run against
// fresh instances of itself, so the engines can rely on one behaviour whatever the database.
// It also holds the benchmarks the backends share.
//
// The suite pins what store.go documents and, where the interface leaves room, the choices
// the backends made together (see the comments on the cases), so that a second backend can
// never quietly differ from the first.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/emfa/emfa/store"
)

// t0 is the suite's clock. Every time handed to a store is t0 plus whole milliseconds,
// because the store keeps millisecond precision.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535_000_000, time.UTC)

// at returns t0 shifted by d, truncated to the store's precision.
func at(d time.Duration) time.Time { return t0.Add(d).Truncate(time.Millisecond) }

// cmpOpts treats nil and empty maps and slices alike: a backend may hand back either for a
// factor without params or a transaction without data. Times compare with Equal (go-cmp
// uses the method), so the location a backend returns does not matter.
var cmpOpts = []cmp.Option{cmpopts.EquateEmpty()}

// Run runs the conformance suite. newStore must return an empty store that the subtest may
// use alone; it is called once per subtest, from the subtest's goroutine, and should
// register its own cleanup with t.Cleanup. Subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"UserCreateGet", testUserCreateGet},
		{"UserCreateDuplicate", testUserCreateDuplicate},
		{"UserGetMissing", testUserGetMissing},
		{"UserList", testUserList},
		{"UserSetDisabled", testUserSetDisabled},
		{"UserDelete", testUserDelete},
		{"TimePrecision", testTimePrecision},
		{"FactorRoundTrip", testFactorRoundTrip},
		{"FactorCreateErrors", testFactorCreateErrors},
		{"GetFactorAndUser", testGetFactorAndUser},
		{"GetFactorUserAndTransaction", testGetFactorUserAndTransaction},
		{"FactorList", testFactorList},
		{"ListEnabledFactors", testListEnabledFactors},
		{"FactorSetState", testFactorSetState},
		{"FactorDelete", testFactorDelete},
		{"FactorUpdateSecret", testFactorUpdateSecret},
		{"FactorKeyIDs", testFactorKeyIDs},
		{"FactorUpdateParams", testFactorUpdateParams},
		{"ActivateFactor", testActivateFactor},
		{"AdvanceCounter", testAdvanceCounter},
		{"RecordFailure", testRecordFailure},
		{"RecordFailureNoMax", testRecordFailureNoMax},
		{"ResetFailures", testResetFailures},
		{"TransactionCreateGet", testTransactionCreateGet},
		{"CompleteTransaction", testCompleteTransaction},
		{"AddAttempt", testAddAttempt},
		{"CancelPending", testCancelPending},
		{"CancelOlder", testCancelOlder},
		{"DeleteExpiredTransactions", testDeleteExpiredTransactions},
		{"ListPendingTransactions", testListPendingTransactions},
		{"ReserveSend", testReserveSend},
		{"ReserveSendLimits", testReserveSendLimits},
		{"ReserveSendKeys", testReserveSendKeys},
		{"ReserveSendInvalid", testReserveSendInvalid},
		{"DeleteSendsBefore", testDeleteSendsBefore},
		{"DeleteSends", testDeleteSends},
		{"DeleteAuditBefore", testDeleteAuditBefore},
		{"UseNonce", testUseNonce},
		{"DeleteExpiredNonces", testDeleteExpiredNonces},
		{"Audit", testAudit},
		{"AuditDefaultLimit", testAuditDefaultLimit},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentAdvanceCounter", testConcurrentAdvanceCounter},
		{"ConcurrentCompleteTransaction", testConcurrentCompleteTransaction},
		{"ConcurrentRecordFailure", testConcurrentRecordFailure},
		{"ConcurrentAddAttempt", testConcurrentAddAttempt},
		{"ConcurrentActivateFactor", testConcurrentActivateFactor},
		{"ConcurrentCreateFactorWithin", testConcurrentCreateFactorWithin},
		{"CreateFactorWithinAlike", testCreateFactorWithinAlike},
		{"UserChangeFactorsWithin", testUserChangeFactorsWithin},
		{"ConcurrentReserveSend", testConcurrentReserveSend},
		{"ConcurrentReserveSendKeys", testConcurrentReserveSendKeys},
		{"ConcurrentUseNonce", testConcurrentUseNonce},
		{"Idempotency", testIdempotency},
		{"IdempotencyTakeOver", testIdempotencyTakeOver},
		{"IdempotencyRelease", testIdempotencyRelease},
		{"IdempotencyRenew", testIdempotencyRenew},
		{"IdempotencyInUnit", testIdempotencyInUnit},
		{"RecordIdempotency", testRecordIdempotency},
		{"DeleteExpiredIdempotency", testDeleteExpiredIdempotency},
		{"ConcurrentClaimIdempotency", testConcurrentClaimIdempotency},
		{"Update", testUpdate},
		{"UpdateRollback", testUpdateRollback},
		{"UpdateCreateFactor", testUpdateCreateFactor},
		{"UpdateAfterCreateFactorExists", testUpdateAfterCreateFactorExists},
		{"UpdateCanceled", testUpdateCanceled},
		{"UpdatePanic", testUpdatePanic},
		{"ConcurrentUpdate", testConcurrentUpdate},
	}
	tests = append(tests, adminTests...)
	tests = append(tests, groupTests...)
	tests = append(tests, syncTests...)
	tests = append(tests, enqueueTests...)
	tests = append(tests, struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{"OAuthClients", testOAuthClients}, struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{"SelfService", testSelfService})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newStore(t))
		})
	}
}

// --- fixtures ---

func newUser(id string) store.User {
	return store.User{ID: id, Name: "name-" + id, CreatedAt: at(0)}
}

func newFactor(id, userID string, created time.Time) store.Factor {
	return store.Factor{
		ID:        id,
		UserID:    userID,
		Type:      "totp",
		Label:     "phone " + id,
		State:     store.FactorActive,
		Secret:    []byte("sealed-" + id),
		KeyID:     "k1",
		Params:    map[string]string{"algorithm": "SHA1", "digits": "6", "period": "30"},
		Counter:   -1,
		CreatedAt: created,
		UpdatedAt: created,
	}
}

func newTransaction(id, factorID string, expires time.Time) store.Transaction {
	return store.Transaction{
		ID:         id,
		Provider:   "sms",
		Username:   "alice",
		Capability: "smsotp",
		FactorID:   factorID,
		Status:     "PENDING",
		Secret:     []byte("hash-" + id),
		Data:       []byte(`{"vendor":"` + id + `"}`),
		ExpiresAt:  expires,
		CreatedAt:  at(0),
		UpdatedAt:  at(0),
	}
}

func mustCreateUser(t *testing.T, s store.Store, u store.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Name, err)
	}
}

func mustCreateFactor(t *testing.T, s store.Store, f store.Factor) {
	t.Helper()
	if err := s.CreateFactor(t.Context(), f); err != nil {
		t.Fatalf("CreateFactor(%q): %v", f.ID, err)
	}
}

func mustCreateTransaction(t *testing.T, s store.Store, tx store.Transaction) {
	t.Helper()
	if err := s.CreateTransaction(t.Context(), tx); err != nil {
		t.Fatalf("CreateTransaction(%q): %v", tx.ID, err)
	}
}

func mustGetFactor(t *testing.T, s store.Store, id string) store.Factor {
	t.Helper()
	f, err := s.GetFactor(t.Context(), id)
	if err != nil {
		t.Fatalf("GetFactor(%q): %v", id, err)
	}
	return f
}

func mustGetTransaction(t *testing.T, s store.Store, id string) store.Transaction {
	t.Helper()
	tx, err := s.GetTransaction(t.Context(), id)
	if err != nil {
		t.Fatalf("GetTransaction(%q): %v", id, err)
	}
	return tx
}

// userWithFactor creates user u1 and its factor f1 and returns the factor as stored.
func userWithFactor(t *testing.T, s store.Store) store.Factor {
	t.Helper()
	mustCreateUser(t, s, newUser("u1"))
	f := newFactor("f1", "u1", at(0))
	mustCreateFactor(t, s, f)
	return f
}

// wantErr fails the test unless err matches want: nil means no error.
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func diff(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOpts...); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

// --- users ---

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testUserCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := store.User{ID: "u1", Name: "alice", Disabled: true, CreatedAt: at(time.Hour)}
	mustCreateUser(t, s, want)
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	diff(t, "user", want, got)
	byID, err := s.GetUserByID(ctx, "u1")
	if err != nil {
		t.Fatalf("GetUserByID: %v", err)
	}
	diff(t, "user by id", want, byID)
	_, err = s.GetUserByID(ctx, "alice") // a name is not an id
	wantErr(t, "GetUserByID", err, store.ErrNotFound)

	// UserDisabled: in any letter case for a user it knows, false without an error for
	// one it does not, and it follows SetUserDisabled.
	mustCreateUser(t, s, store.User{ID: "u2", Name: "bob", CreatedAt: at(time.Hour)})
	for _, tc := range []struct {
		name string
		want bool
	}{{"alice", true}, {"ALICE", true}, {"bob", false}, {"carol", false}} {
		if got, err := s.UserDisabled(ctx, tc.name); err != nil || got != tc.want {
			t.Errorf("UserDisabled(%q) = %v, %v; want %v, nil", tc.name, got, err, tc.want)
		}
	}
	if err := s.SetUserDisabled(ctx, "bob", true); err != nil {
		t.Fatalf("SetUserDisabled: %v", err)
	}
	if got, err := s.UserDisabled(ctx, "Bob"); err != nil || !got {
		t.Errorf("UserDisabled(Bob) after disabling = %v, %v; want true, nil", got, err)
	}
}

func testUserCreateDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, store.User{ID: "u1", Name: "alice", CreatedAt: at(0)})
	for _, tc := range []struct {
		name string
		u    store.User
	}{
		{"same name", store.User{ID: "u2", Name: "alice", CreatedAt: at(0)}},
		{"same id", store.User{ID: "u1", Name: "bob", CreatedAt: at(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateUser", s.CreateUser(ctx, tc.u), store.ErrExists)
		})
	}
	// The failed creations must not have changed the original.
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	diff(t, "user", store.User{ID: "u1", Name: "alice", CreatedAt: at(0)}, got)
	if _, err := s.GetUser(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUser(bob) after failed create: got %v, want ErrNotFound", err)
	}
}

func testUserGetMissing(t *testing.T, s store.Store) {
	_, err := s.GetUser(t.Context(), "nobody")
	wantErr(t, "GetUser", err, store.ErrNotFound)
}

func testUserList(t *testing.T, s store.Store) {
	ctx := t.Context()
	list := func() []store.User {
		t.Helper()
		recs, err := s.ListUserRecords(ctx, store.UserQuery{})
		if err != nil {
			t.Fatalf("ListUserRecords: %v", err)
		}
		var users []store.User
		for _, r := range recs {
			users = append(users, r.User)
		}
		return users
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("ListUserRecords on an empty store: got %d users", len(got))
	}
	// The bytes of the folded names, whatever the database's collation: "Bob" between
	// "alice" and "zed", "Émile" (folded "Émile", bytes above any ASCII) last.
	users := []store.User{
		{ID: "3", Name: "Bob", CreatedAt: at(0)},
		{ID: "1", Name: "alice", CreatedAt: at(time.Second)},
		{ID: "2", Name: "zed", Disabled: true, CreatedAt: at(2 * time.Second)},
		{ID: "4", Name: "Émile", CreatedAt: at(3 * time.Second)},
	}
	for _, u := range users {
		mustCreateUser(t, s, u)
	}
	diff(t, "users", []store.User{users[1], users[0], users[2], users[3]}, list())
}

func testUserSetDisabled(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, store.User{ID: "u1", Name: "alice", CreatedAt: at(0)})
	for _, tc := range []struct {
		name     string
		user     string
		disabled bool
		err      error
	}{
		{"disable", "alice", true, nil},
		{"disable again", "alice", true, nil},
		{"enable", "alice", false, nil},
		{"missing", "nobody", true, store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.SetUserDisabled(ctx, tc.user, tc.disabled)
			wantErr(t, "SetUserDisabled", err, tc.err)
			if tc.err != nil {
				return
			}
			got, err := s.GetUser(ctx, tc.user)
			if err != nil {
				t.Fatalf("GetUser: %v", err)
			}
			if got.Disabled != tc.disabled {
				t.Errorf("Disabled = %v, want %v", got.Disabled, tc.disabled)
			}
		})
	}
}

func testUserDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, store.User{ID: "u1", Name: "alice", CreatedAt: at(0)})
	mustCreateUser(t, s, store.User{ID: "u2", Name: "bob", CreatedAt: at(0)})
	mustCreateFactor(t, s, newFactor("a1", "u1", at(0)))
	mustCreateFactor(t, s, newFactor("a2", "u1", at(time.Second)))
	keep := newFactor("b1", "u2", at(0))
	mustCreateFactor(t, s, keep)

	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err := s.GetUser(ctx, "alice")
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	for _, id := range []string{"a1", "a2"} {
		_, err := s.GetFactor(ctx, id)
		wantErr(t, "GetFactor "+id+" after its user was deleted", err, store.ErrNotFound)
	}
	fs, err := s.ListFactors(ctx, "u1")
	if err != nil {
		t.Fatalf("ListFactors: %v", err)
	}
	if len(fs) != 0 {
		t.Errorf("ListFactors after delete: got %d factors, want 0", len(fs))
	}
	diff(t, "other user's factor", keep, mustGetFactor(t, s, "b1"))
	wantErr(t, "DeleteUser again", s.DeleteUser(ctx, "alice"), store.ErrNotFound)
	// The name is free again.
	mustCreateUser(t, s, store.User{ID: "u3", Name: "alice", CreatedAt: at(0)})
}

func testTimePrecision(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Sub-millisecond digits are dropped, not rounded; other zones come back as the same
	// instant.
	in := time.Date(2025, time.March, 14, 16, 9, 26, 535_897_932, time.FixedZone("CET", 3600))
	mustCreateUser(t, s, store.User{ID: "u1", Name: "alice", CreatedAt: in})
	got, err := s.GetUser(ctx, "alice")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if want := in.Truncate(time.Millisecond); !got.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want)
	}
	// The zero time survives as the zero time, not as 1970.
	mustCreateUser(t, s, store.User{ID: "u2", Name: "bob"})
	got, err = s.GetUser(ctx, "bob")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !got.CreatedAt.IsZero() {
		t.Errorf("CreatedAt = %v, want the zero time", got.CreatedAt)
	}
}

// --- factors ---

func testFactorRoundTrip(t *testing.T, s store.Store) {
	mustCreateUser(t, s, newUser("u1"))
	for _, tc := range []struct {
		name string
		f    store.Factor
	}{
		{"all fields", store.Factor{
			ID:          "full",
			UserID:      "u1",
			Type:        "hotp",
			Label:       "Yubikey «5» ✓",
			State:       store.FactorDisabled,
			Secret:      []byte{0, 1, 2, 0xfe, 0xff, 0},
			KeyID:       "2025-03",
			Params:      map[string]string{"algorithm": "SHA256", "digits": "8", "note": `quotes " and \ slash`},
			Counter:     1<<53 + 1,
			Failures:    3,
			LockedUntil: at(15 * time.Minute),
			CreatedAt:   at(-time.Hour),
			UpdatedAt:   at(time.Minute),
		}},
		{"zero values", store.Factor{
			ID:        "bare",
			UserID:    "u1",
			Type:      "smsotp",
			State:     store.FactorActive,
			Counter:   -1,
			CreatedAt: at(0),
			UpdatedAt: at(0),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustCreateFactor(t, s, tc.f)
			diff(t, "factor", tc.f, mustGetFactor(t, s, tc.f.ID))
		})
	}
}

// GetFactorAndUser reads what two reads would: the factor as GetFactor has it, the user
// as GetUser has it or a zero User, whoever owns the factor.
func testGetFactorAndUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	u2 := newUser("u2")
	u2.Disabled = true
	u2.CreatedAt = at(time.Hour)
	mustCreateUser(t, s, u2)
	mustCreateFactor(t, s, newFactor("f1", "u1", at(0)))
	for _, tc := range []struct {
		name, factor, user string
		wantUser           store.User
	}{
		{"own factor", "f1", "name-u1", newUser("u1")},
		{"another's factor, disabled user", "f1", "name-u2", u2},
		{"unknown user", "f1", "nobody", store.User{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, u, err := s.GetFactorAndUser(ctx, tc.factor, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "factor", mustGetFactor(t, s, tc.factor), f)
			diff(t, "user", tc.wantUser, u)
		})
	}
	_, _, err := s.GetFactorAndUser(ctx, "nope", "name-u1")
	wantErr(t, "GetFactorAndUser(unknown factor)", err, store.ErrNotFound)
}

// GetFactorUserAndTransaction reads what three reads would: GetFactorAndUser's, and the
// transaction as GetTransaction has it or a zero Transaction, whatever factor it is of.
func testGetFactorUserAndTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	mustCreateFactor(t, s, newFactor("f1", "u1", at(0)))
	mustCreateFactor(t, s, newFactor("f2", "u1", at(time.Second)))
	mustCreateTransaction(t, s, newTransaction("t1", "f1", at(time.Hour)))
	bare := newTransaction("t2", "f2", at(time.Hour))
	bare.Secret, bare.Data = nil, nil
	mustCreateTransaction(t, s, bare)
	if _, err := s.AddAttempt(ctx, "t2", at(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, factor, user, tx string
		wantUser               store.User
		wantTx                 bool
	}{
		{"own transaction", "f1", "name-u1", "t1", newUser("u1"), true},
		{"another factor's, without secret or data, an attempt counted", "f1", "name-u1", "t2", newUser("u1"), true},
		{"unknown transaction", "f1", "name-u1", "nope", newUser("u1"), false},
		{"unknown user", "f1", "nobody", "t1", store.User{}, true},
		{"unknown user and transaction", "f1", "nobody", "nope", store.User{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, u, tx, err := s.GetFactorUserAndTransaction(ctx, tc.factor, tc.user, tc.tx)
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "factor", mustGetFactor(t, s, tc.factor), f)
			diff(t, "user", tc.wantUser, u)
			want := store.Transaction{}
			if tc.wantTx {
				want = mustGetTransaction(t, s, tc.tx)
			}
			diff(t, "transaction", want, tx)
		})
	}
	_, _, _, err := s.GetFactorUserAndTransaction(ctx, "nope", "name-u1", "t1")
	wantErr(t, "GetFactorUserAndTransaction(unknown factor)", err, store.ErrNotFound)
	for _, bad := range []string{"a\x00b", "a\xffb", "\xc3"} {
		_, _, _, err := s.GetFactorUserAndTransaction(ctx, bad, "name-u1", "t1")
		wantErr(t, "GetFactorUserAndTransaction by factor", err, store.ErrNotFound)
		f, u, tx, err := s.GetFactorUserAndTransaction(ctx, "f1", bad, "t1")
		if err != nil || f.ID != "f1" || u.ID != "" || tx.ID != "t1" {
			t.Fatalf("GetFactorUserAndTransaction(f1, %q, t1) = %s, %+v, %s, %v; want f1, no user, t1", bad, f.ID, u, tx.ID, err)
		}
		f, u, tx, err = s.GetFactorUserAndTransaction(ctx, "f1", "name-u1", bad)
		if err != nil || f.ID != "f1" || u.ID != "u1" || tx.ID != "" {
			t.Fatalf("GetFactorUserAndTransaction(f1, name-u1, %q) = %s, %+v, %s, %v; want f1, u1, no transaction", bad, f.ID, u, tx.ID, err)
		}
	}
}

func testFactorCreateErrors(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := userWithFactor(t, s)
	for _, tc := range []struct {
		name string
		f    store.Factor
		err  error
	}{
		{"missing user", newFactor("f2", "nobody", at(0)), store.ErrNotFound},
		{"duplicate id", newFactor("f1", "u1", at(time.Hour)), store.ErrExists},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CreateFactor", s.CreateFactor(ctx, tc.f), tc.err)
		})
	}
	diff(t, "original factor", orig, mustGetFactor(t, s, "f1"))
	_, err := s.GetFactor(ctx, "f2")
	wantErr(t, "GetFactor of a factor never created", err, store.ErrNotFound)
}

func testFactorList(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	mustCreateUser(t, s, newUser("u2"))
	// Created out of order; "B" and "a" share a creation time, so the id breaks the tie in
	// byte order.
	fs := []store.Factor{
		newFactor("late", "u1", at(time.Hour)),
		newFactor("a", "u1", at(time.Minute)),
		newFactor("B", "u1", at(time.Minute)),
		newFactor("early", "u1", at(0)),
		newFactor("other", "u2", at(0)),
	}
	for _, f := range fs {
		mustCreateFactor(t, s, f)
	}
	for _, tc := range []struct {
		user string
		want []store.Factor
	}{
		{"u1", []store.Factor{fs[3], fs[2], fs[1], fs[0]}},
		{"u2", []store.Factor{fs[4]}},
		{"nobody", nil},
	} {
		t.Run(tc.user, func(t *testing.T) {
			got, err := s.ListFactors(ctx, tc.user)
			if err != nil {
				t.Fatalf("ListFactors: %v", err)
			}
			diff(t, "factors", tc.want, got)
		})
	}
}

// ListEnabledFactors reads what GetUser and ListFactors would: the factors of the user by
// name, in any case and in ListFactors' order, and none for a disabled or unknown user.
func testListEnabledFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	u2 := newUser("u2")
	u2.Disabled = true
	mustCreateUser(t, s, u2)
	mustCreateUser(t, s, newUser("u3"))
	for _, f := range []store.Factor{
		newFactor("late", "u1", at(time.Hour)),
		newFactor("B", "u1", at(time.Minute)),
		newFactor("a", "u1", at(time.Minute)),
		newFactor("off", "u2", at(0)),
	} {
		mustCreateFactor(t, s, f)
	}
	want, err := s.ListFactors(ctx, "u1")
	if err != nil || len(want) != 3 {
		t.Fatalf("ListFactors: %v %v", want, err)
	}
	for _, tc := range []struct {
		name string
		want []store.Factor
	}{
		{"name-u1", want},
		{"NAME-U1", want},
		{"name-u2", nil}, // disabled
		{"name-u3", nil}, // no factors
		{"nobody", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListEnabledFactors(ctx, tc.name)
			if err != nil {
				t.Fatalf("ListEnabledFactors: %v", err)
			}
			diff(t, "factors", tc.want, got)
		})
	}
}

func testFactorSetState(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := userWithFactor(t, s)
	for _, tc := range []struct {
		name  string
		id    string
		state store.FactorState
		now   time.Time
		err   error
	}{
		{"disable", "f1", store.FactorDisabled, at(time.Minute), nil},
		{"enable", "f1", store.FactorActive, at(2 * time.Minute), nil},
		{"missing", "nope", store.FactorDisabled, at(3 * time.Minute), store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "SetFactorState", s.SetFactorState(ctx, tc.id, tc.state, tc.now), tc.err)
			if tc.err != nil {
				return
			}
			want.State, want.UpdatedAt = tc.state, tc.now
			diff(t, "factor", want, mustGetFactor(t, s, tc.id))
		})
	}
}

func testFactorDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	keep := newFactor("f2", "u1", at(time.Second))
	mustCreateFactor(t, s, keep)
	if err := s.DeleteFactor(ctx, "f1"); err != nil {
		t.Fatalf("DeleteFactor: %v", err)
	}
	_, err := s.GetFactor(ctx, "f1")
	wantErr(t, "GetFactor after delete", err, store.ErrNotFound)
	wantErr(t, "DeleteFactor again", s.DeleteFactor(ctx, "f1"), store.ErrNotFound)
	got, err := s.ListFactors(ctx, "u1")
	if err != nil {
		t.Fatalf("ListFactors: %v", err)
	}
	diff(t, "remaining factors", []store.Factor{keep}, got)
	if _, err := s.GetUser(ctx, "name-u1"); err != nil {
		t.Errorf("GetUser after deleting one of its factors: %v", err)
	}
}

func testFactorUpdateSecret(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := userWithFactor(t, s)
	now := at(time.Hour)
	if err := s.UpdateFactorSecret(ctx, "f1", []byte{9, 8, 7}, "k2", now); err != nil {
		t.Fatalf("UpdateFactorSecret: %v", err)
	}
	want.Secret, want.KeyID, want.UpdatedAt = []byte{9, 8, 7}, "k2", now
	diff(t, "factor", want, mustGetFactor(t, s, "f1"))
	err := s.UpdateFactorSecret(ctx, "nope", []byte{1}, "k2", now)
	wantErr(t, "UpdateFactorSecret on a missing factor", err, store.ErrNotFound)
}

// FactorKeyIDs is what start-up compares with the keyring: every key some factor's secret
// is sealed with, each once, and no "" for factors without a secret.
func testFactorKeyIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	ids := func() []string {
		t.Helper()
		got, err := s.FactorKeyIDs(ctx)
		if err != nil {
			t.Fatalf("FactorKeyIDs: %v", err)
		}
		return got
	}
	diff(t, "key ids of an empty store", []string{}, ids())
	mustCreateUser(t, s, newUser("u1"))
	for i, kid := range []string{"k2", "", "k1", "k2", "k10", "k1"} {
		f := newFactor(fmt.Sprintf("f%d", i), "u1", at(time.Duration(i)*time.Second))
		if f.KeyID = kid; kid == "" {
			f.Type, f.Secret = "push", nil
		}
		mustCreateFactor(t, s, f)
	}
	diff(t, "key ids", []string{"k1", "k10", "k2"}, ids())
	if err := s.UpdateFactorSecret(ctx, "f4", []byte{1}, "k2", at(time.Hour)); err != nil {
		t.Fatalf("UpdateFactorSecret: %v", err)
	}
	if err := s.DeleteFactor(ctx, "f2"); err != nil {
		t.Fatalf("DeleteFactor: %v", err)
	}
	diff(t, "key ids after a re-seal and a delete", []string{"k1", "k2"}, ids())
}

func testFactorUpdateParams(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := userWithFactor(t, s)
	pend := newFactor("f2", "u1", at(0))
	pend.State = store.FactorPending
	mustCreateFactor(t, s, pend)
	for _, tc := range []struct {
		name   string
		id     string
		label  string
		params map[string]string
		now    time.Time
		err    error
	}{
		{"replace", "f1", "Pixel «9»", map[string]string{"phone": "+15550100"}, at(time.Minute), nil},
		{"clear", "f1", "", nil, at(2 * time.Minute), nil},
		// The label kept: a caller that changes the params alone.
		{"params alone", "f1", "keep", map[string]string{"asking": "1"}, at(150 * time.Second), nil},
		// Params are settings, not the lifecycle: a pending factor stays pending.
		{"pending", "f2", "new phone", map[string]string{"platform": "android"}, at(3 * time.Minute), nil},
		{"missing", "nope", "x", nil, at(4 * time.Minute), store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			label := &tc.label
			if tc.label == "keep" {
				label = nil
			}
			err := s.UpdateFactorParams(ctx, tc.id, label, tc.params, tc.now)
			wantErr(t, "UpdateFactorParams", err, tc.err)
			if tc.err != nil {
				return
			}
			f := want
			if tc.id == "f2" {
				f = pend
			}
			// Only label, params and UpdatedAt change; secret, counter and state stay.
			f.Params, f.UpdatedAt = tc.params, tc.now
			if label != nil {
				f.Label = tc.label
			}
			diff(t, "factor", f, mustGetFactor(t, s, tc.id))
			if tc.id == "f1" {
				want = f
			}
		})
	}
}

func testActivateFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	factors := map[string]store.Factor{}
	for _, st := range []store.FactorState{store.FactorPending, store.FactorActive, store.FactorDisabled} {
		f := newFactor(string(st), "u1", at(0))
		f.Type, f.State, f.Params = "push", st, map[string]string{"registration": "r-" + string(st)}
		mustCreateFactor(t, s, f)
		factors[f.ID] = f
	}
	bare := newFactor("bare", "u1", at(0))
	bare.State = store.FactorPending
	mustCreateFactor(t, s, bare)
	factors["bare"] = bare
	for _, tc := range []struct {
		name   string
		id     string
		params map[string]string
		now    time.Time
		err    error
	}{
		{"pending", "pending", map[string]string{"device": "d1", "platform": "ios"}, at(time.Minute), nil},
		// An activation is used once.
		{"again", "pending", map[string]string{"device": "d2"}, at(2 * time.Minute), store.ErrConflict},
		{"active", "active", map[string]string{"device": "d3"}, at(2 * time.Minute), store.ErrConflict},
		{"disabled", "disabled", map[string]string{"device": "d4"}, at(2 * time.Minute), store.ErrConflict},
		{"nil params", "bare", nil, at(3 * time.Minute), nil},
		{"missing", "nope", nil, at(4 * time.Minute), store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "ActivateFactor", s.ActivateFactor(ctx, tc.id, tc.params, tc.now), tc.err)
			if tc.err == store.ErrNotFound {
				return
			}
			want := factors[tc.id]
			if tc.err == nil {
				want.State, want.Params, want.UpdatedAt = store.FactorActive, tc.params, tc.now
				factors[tc.id] = want
			}
			// A refused activation changes nothing, params included.
			diff(t, "factor", want, mustGetFactor(t, s, tc.id))
		})
	}
}

func testAdvanceCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s) // counter -1
	// Lock the factor for 30 s first: a code is refused while it holds (concurrent wrong
	// codes locked the factor since it was read), and the first success after it ends
	// has a lockout to clear.
	if _, err := s.RecordFailure(ctx, "f1", at(0), 2, 30*time.Second); err != nil {
		t.Fatalf("RecordFailure: %v", err)
	}
	if _, err := s.RecordFailure(ctx, "f1", at(0), 2, 30*time.Second); err != nil {
		t.Fatalf("RecordFailure: %v", err)
	}
	want := mustGetFactor(t, s, "f1")
	if want.LockedUntil.IsZero() || want.Failures != 2 {
		t.Fatalf("setup: factor not locked: failures %d, locked until %v", want.Failures, want.LockedUntil)
	}
	for _, tc := range []struct {
		name string
		id   string
		next int64
		now  time.Time
		err  error
	}{
		{"locked", "f1", 5, at(10 * time.Second), store.ErrLocked},
		{"first use", "f1", 5, at(time.Minute), nil},
		{"same value", "f1", 5, at(2 * time.Minute), store.ErrReplay},
		{"lower value", "f1", 4, at(3 * time.Minute), store.ErrReplay},
		{"next value", "f1", 6, at(4 * time.Minute), nil},
		{"jump ahead", "f1", 1 << 40, at(5 * time.Minute), nil},
		{"missing", "nope", 7, at(6 * time.Minute), store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.AdvanceCounter(ctx, tc.id, tc.next, tc.now)
			wantErr(t, "AdvanceCounter", err, tc.err)
			if tc.err == store.ErrNotFound {
				return
			}
			if tc.err == nil {
				// Success stores the counter and clears failures and lockout.
				want.Counter, want.Failures, want.LockedUntil, want.UpdatedAt = tc.next, 0, time.Time{}, tc.now
			}
			// A replay or a lockout changes nothing, not even UpdatedAt.
			diff(t, "factor", want, mustGetFactor(t, s, tc.id))
		})
	}
}

func testRecordFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	const maxFailures, lockFor = 3, 5 * time.Minute
	for _, tc := range []struct {
		name         string
		now          time.Time
		wantFailures int
		wantLocked   time.Time
	}{
		{"first", at(time.Second), 1, time.Time{}},
		{"second", at(2 * time.Second), 2, time.Time{}},
		{"reaches max", at(3 * time.Second), 3, at(3*time.Second + lockFor)},
		// A failure recorded while locked is past max too, so it renews the lockout.
		{"while locked", at(4 * time.Second), 4, at(4*time.Second + lockFor)},
		// LockedUntil <= now is an expired lockout: it is cleared and the count restarts.
		{"lockout expired at now", at(4*time.Second + lockFor), 1, time.Time{}},
		{"counts again", at(10 * time.Minute), 2, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.RecordFailure(ctx, "f1", tc.now, maxFailures, lockFor)
			if err != nil {
				t.Fatalf("RecordFailure: %v", err)
			}
			if got.Failures != tc.wantFailures || !got.LockedUntil.Equal(tc.wantLocked) {
				t.Errorf("got failures %d, locked until %v; want %d, %v",
					got.Failures, got.LockedUntil, tc.wantFailures, tc.wantLocked)
			}
			if !got.UpdatedAt.Equal(tc.now) {
				t.Errorf("UpdatedAt = %v, want %v", got.UpdatedAt, tc.now)
			}
			// What it returns is what it stored.
			diff(t, "returned vs stored factor", mustGetFactor(t, s, "f1"), got)
		})
	}
	_, err := s.RecordFailure(ctx, "nope", at(0), maxFailures, lockFor)
	wantErr(t, "RecordFailure on a missing factor", err, store.ErrNotFound)
}

func testRecordFailureNoMax(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	for _, maxFailures := range []int{0, -1} {
		t.Run(fmt.Sprintf("max %d", maxFailures), func(t *testing.T) {
			if err := s.ResetFailures(ctx, "f1", at(0)); err != nil {
				t.Fatalf("ResetFailures: %v", err)
			}
			var f store.Factor
			for i := range 10 {
				var err error
				f, err = s.RecordFailure(ctx, "f1", at(time.Duration(i)*time.Second), maxFailures, time.Hour)
				if err != nil {
					t.Fatalf("RecordFailure: %v", err)
				}
			}
			if f.Failures != 10 || !f.LockedUntil.IsZero() {
				t.Errorf("after 10 failures: failures %d, locked until %v; want 10, never locked", f.Failures, f.LockedUntil)
			}
		})
	}
}

func testResetFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := userWithFactor(t, s)
	if _, err := s.RecordFailure(ctx, "f1", at(0), 1, time.Hour); err != nil {
		t.Fatalf("RecordFailure: %v", err)
	}
	now := at(time.Minute)
	if err := s.ResetFailures(ctx, "f1", now); err != nil {
		t.Fatalf("ResetFailures: %v", err)
	}
	want.UpdatedAt = now
	diff(t, "factor", want, mustGetFactor(t, s, "f1"))
	wantErr(t, "ResetFailures on a missing factor", s.ResetFailures(ctx, "nope", now), store.ErrNotFound)
}

// --- transactions ---

func testTransactionCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newTransaction("t1", "f1", at(5*time.Minute))
	full.Attempts = 2
	bare := store.Transaction{ID: "t2", Status: "PENDING", ExpiresAt: at(time.Minute), CreatedAt: at(0), UpdatedAt: at(0)}
	// Created here, not in the subtests: the duplicate below needs t1 whether its subtest
	// ran or not. t.Run runs nothing and reports success for a subtest -run leaves out, or
	// under -failfast once any test has failed (a parallel one, under load): then there was
	// no t1, the duplicate's create succeeded, and this test failed too, saying so.
	for _, tx := range []store.Transaction{full, bare} {
		mustCreateTransaction(t, s, tx)
	}
	for _, tx := range []store.Transaction{full, bare} {
		t.Run(tx.ID, func(t *testing.T) {
			diff(t, "transaction", tx, mustGetTransaction(t, s, tx.ID))
		})
	}
	dup := newTransaction("t1", "f9", at(time.Hour))
	wantErr(t, "CreateTransaction duplicate", s.CreateTransaction(ctx, dup), store.ErrExists)
	diff(t, "transaction after a duplicate create", full, mustGetTransaction(t, s, "t1"))
	_, err := s.GetTransaction(ctx, "nope")
	wantErr(t, "GetTransaction missing", err, store.ErrNotFound)
}

func testCompleteTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newTransaction("t1", "f1", at(5*time.Minute))
	mustCreateTransaction(t, s, want)
	for _, tc := range []struct {
		name   string
		id     string
		status string
		now    time.Time
		err    error
	}{
		{"pending to success", "t1", "SUCCESS", at(time.Minute), nil},
		{"already complete", "t1", "FAILED", at(2 * time.Minute), store.ErrConflict},
		{"missing", "nope", "SUCCESS", at(3 * time.Minute), store.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, "CompleteTransaction", s.CompleteTransaction(ctx, tc.id, tc.status, tc.now), tc.err)
			if tc.err == store.ErrNotFound {
				return
			}
			if tc.err == nil {
				want.Status, want.UpdatedAt = tc.status, tc.now
			}
			diff(t, "transaction", want, mustGetTransaction(t, s, tc.id))
		})
	}
}

func testAddAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	want := newTransaction("t1", "f1", at(5*time.Minute))
	mustCreateTransaction(t, s, want)
	for i := 1; i <= 3; i++ {
		now := at(time.Duration(i) * time.Second)
		n, err := s.AddAttempt(ctx, "t1", now)
		if err != nil {
			t.Fatalf("AddAttempt %d: %v", i, err)
		}
		if n != i {
			t.Errorf("AddAttempt %d returned %d", i, n)
		}
		want.Attempts, want.UpdatedAt = i, now
	}
	diff(t, "transaction", want, mustGetTransaction(t, s, "t1"))

	// AddAttemptAfter returns the count as it is, whatever the caller read: a read of 3
	// is 4, a stale read of 1 (attempts counted since) is 5, not 2.
	for i, read := range []int{3, 1} {
		if n, err := s.AddAttemptAfter(ctx, "t1", read, at(4*time.Second)); err != nil || n != 4+i {
			t.Errorf("AddAttemptAfter a read of %d: %d, %v; want %d", read, n, err, 4+i)
		}
	}

	if err := s.CompleteTransaction(ctx, "t1", "FAILED", at(time.Minute)); err != nil {
		t.Fatalf("CompleteTransaction: %v", err)
	}
	_, err := s.AddAttempt(ctx, "t1", at(2*time.Minute))
	wantErr(t, "AddAttempt after completion", err, store.ErrConflict)
	_, err = s.AddAttemptAfter(ctx, "t1", 5, at(2*time.Minute))
	wantErr(t, "AddAttemptAfter after completion", err, store.ErrConflict)
	if got := mustGetTransaction(t, s, "t1"); got.Attempts != 5 {
		t.Errorf("Attempts after a refused AddAttempt = %d, want 5", got.Attempts)
	}
	_, err = s.AddAttempt(ctx, "nope", at(0))
	wantErr(t, "AddAttempt missing", err, store.ErrNotFound)
}

func testCancelPending(t *testing.T, s store.Store) {
	ctx := t.Context()
	txs := map[string]store.Transaction{
		"old1":  newTransaction("old1", "f1", at(time.Hour)),
		"old2":  newTransaction("old2", "f1", at(time.Hour)),
		"keep":  newTransaction("keep", "f1", at(time.Hour)),
		"done":  newTransaction("done", "f1", at(time.Hour)),
		"other": newTransaction("other", "f2", at(time.Hour)),
		// Expired unanswered (at now, too): dead, answered TIMEOUT, and swept; not withdrawn.
		"dead": newTransaction("dead", "f1", at(30*time.Second)),
		"edge": newTransaction("edge", "f1", at(time.Minute)),
	}
	for _, tx := range txs {
		mustCreateTransaction(t, s, tx)
	}
	completeAs(t, s, txs, "done", "SUCCESS", at(time.Second))

	now := at(time.Minute)
	n, err := s.CancelPending(ctx, "f1", "keep", "CANCELED", now)
	if err != nil {
		t.Fatalf("CancelPending: %v", err)
	}
	if n != 2 {
		t.Errorf("CancelPending changed %d, want 2", n)
	}
	canceledAt(txs, now, "old1", "old2")
	for id, want := range txs {
		diff(t, "transaction "+id, want, mustGetTransaction(t, s, id))
	}

	n, err = s.CancelPending(ctx, "f1", "keep", "CANCELED", at(2*time.Minute))
	if err != nil || n != 0 {
		t.Errorf("CancelPending again: got %d, %v; want 0, nil", n, err)
	}
	// With no id to keep, every pending one of the factor goes.
	n, err = s.CancelPending(ctx, "f1", "", "CANCELED", at(3*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("CancelPending without keep: got %d, %v; want 1, nil", n, err)
	}
	n, err = s.CancelPending(ctx, "nope", "", "CANCELED", at(3*time.Minute))
	if err != nil || n != 0 {
		t.Errorf("CancelPending on an unknown factor: got %d, %v; want 0, nil", n, err)
	}
}

// completeAs completes transaction id in s, and as expected in txs.
func completeAs(t *testing.T, s store.Store, txs map[string]store.Transaction, id, status string, now time.Time) {
	t.Helper()
	if err := s.CompleteTransaction(t.Context(), id, status, now); err != nil {
		t.Fatalf("CompleteTransaction: %v", err)
	}
	tx := txs[id]
	tx.Status, tx.UpdatedAt = status, now
	txs[id] = tx
}

// canceledAt expects ids in txs canceled at now.
func canceledAt(txs map[string]store.Transaction, now time.Time, ids ...string) {
	for _, id := range ids {
		tx := txs[id]
		tx.Status, tx.UpdatedAt = "CANCELED", now
		txs[id] = tx
	}
}

// testCancelOlder: only the factor's pending transactions created before the one kept go,
// in the order the store took them, whatever their CreatedAt says (two started in one
// millisecond are ordered too); newer ones, ended ones, other factors' and the kept one
// stay.
func testCancelOlder(t *testing.T, s store.Store) {
	ctx := t.Context()
	txs := map[string]store.Transaction{}
	for _, c := range []struct {
		id, factor string
		created    time.Duration
	}{
		{"old", "f1", 0}, {"tie-a", "f1", time.Second}, {"tie-k", "f1", time.Second}, {"tie-z", "f1", time.Second},
		{"newer", "f1", 2 * time.Second}, {"done", "f1", 0}, {"other", "f2", 0},
	} {
		tx := newTransaction(c.id, c.factor, at(time.Hour))
		tx.CreatedAt, tx.UpdatedAt = at(c.created), at(c.created)
		mustCreateTransaction(t, s, tx)
		txs[c.id] = tx
	}
	completeAs(t, s, txs, "done", "SUCCESS", at(time.Second))

	now := at(time.Minute)
	n, err := s.CancelOlder(ctx, "f1", "tie-k", "CANCELED", now)
	if err != nil || n != 2 {
		t.Fatalf("CancelOlder: %d, %v; want 2 (old, tie-a)", n, err)
	}
	canceledAt(txs, now, "old", "tie-a")
	for id, want := range txs {
		diff(t, "transaction "+id, want, mustGetTransaction(t, s, id))
	}
	// The newest keeps itself alone; an id that is no transaction cancels nothing.
	if n, err := s.CancelOlder(ctx, "f1", "newer", "CANCELED", now); err != nil || n != 2 {
		t.Errorf("CancelOlder than the newest: %d, %v; want 2 (tie-k, tie-z)", n, err)
	}
	if n, err := s.CancelOlder(ctx, "f1", "nope", "CANCELED", now); err != nil || n != 0 {
		t.Errorf("CancelOlder than no transaction: %d, %v; want 0", n, err)
	}
	if tx := mustGetTransaction(t, s, "newer"); tx.Status != "PENDING" {
		t.Errorf("the newest: %s", tx.Status)
	}

	// Created later but stamped earlier (a replica whose clock is a second behind), or in
	// one millisecond with an id that sorts first: still the newer, as the store took them.
	// Before, the resend on the slow replica withdrew nothing, and two challenges of one
	// millisecond were ordered by their random ids.
	for _, c := range []struct {
		id      string
		created time.Duration
	}{{"f3-first", 2 * time.Second}, {"f3-behind", time.Second}, {"f3-z", 3 * time.Second}, {"f3-a", 3 * time.Second}} {
		tx := newTransaction(c.id, "f3", at(time.Hour))
		tx.CreatedAt, tx.UpdatedAt = at(c.created), at(c.created)
		mustCreateTransaction(t, s, tx)
	}
	if n, err := s.CancelOlder(ctx, "f3", "f3-behind", "CANCELED", now); err != nil || n != 1 {
		t.Errorf("CancelOlder than one created later on a clock behind: %d, %v; want 1 (f3-first)", n, err)
	}
	if tx := mustGetTransaction(t, s, "f3-z"); tx.Status != "PENDING" {
		t.Errorf("created after the one kept, stamped later: %s", tx.Status)
	}
	if n, err := s.CancelOlder(ctx, "f3", "f3-a", "CANCELED", now); err != nil || n != 2 {
		t.Errorf("CancelOlder than the last of one millisecond: %d, %v; want 2 (f3-behind, f3-z)", n, err)
	}
	if tx := mustGetTransaction(t, s, "f3-a"); tx.Status != "PENDING" {
		t.Errorf("the last created: %s", tx.Status)
	}

	// An expired one (expiring at now included) is dead, and stays as it is, to be
	// answered TIMEOUT and swept: it is no earlier code to withdraw.
	for _, c := range []struct {
		id      string
		expires time.Time
	}{{"f4-expired", at(30 * time.Second)}, {"f4-edge", now}, {"f4-live", at(time.Hour)}, {"f4-new", at(time.Hour)}} {
		mustCreateTransaction(t, s, newTransaction(c.id, "f4", c.expires))
	}
	if n, err := s.CancelOlder(ctx, "f4", "f4-new", "CANCELED", now); err != nil || n != 1 {
		t.Errorf("CancelOlder with expired ones before: %d, %v; want 1 (f4-live)", n, err)
	}
	for id, want := range map[string]string{"f4-expired": "PENDING", "f4-edge": "PENDING", "f4-live": "CANCELED"} {
		if tx := mustGetTransaction(t, s, id); tx.Status != want {
			t.Errorf("%s: %s, want %s", id, tx.Status, want)
		}
	}
}

func testDeleteExpiredTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := at(time.Hour)
	for i, d := range []time.Duration{-3 * time.Minute, -2 * time.Minute, -time.Millisecond, 0, time.Minute} {
		tx := newTransaction(fmt.Sprintf("t%d", i), "f1", cutoff.Add(d))
		if i == 1 {
			tx.Status = "SUCCESS" // completed or not, expired is expired
		}
		mustCreateTransaction(t, s, tx)
	}
	_, err := s.DeleteExpiredTransactions(ctx, cutoff, 0)
	if err == nil {
		t.Errorf("DeleteExpiredTransactions with limit 0: want an error (a caller looping until n < limit would never stop)")
	}
	for _, tc := range []struct {
		limit, want int
	}{{2, 2}, {2, 1}, {2, 0}} {
		n, err := s.DeleteExpiredTransactions(ctx, cutoff, tc.limit)
		if err != nil {
			t.Fatalf("DeleteExpiredTransactions: %v", err)
		}
		if n != tc.want {
			t.Errorf("DeleteExpiredTransactions(limit %d) = %d, want %d", tc.limit, n, tc.want)
		}
	}
	// t0..t2 expired before the cut-off; t3 expires exactly at it, which is not "before".
	for i, want := range []error{store.ErrNotFound, store.ErrNotFound, store.ErrNotFound, nil, nil} {
		id := fmt.Sprintf("t%d", i)
		_, err := s.GetTransaction(ctx, id)
		wantErr(t, "GetTransaction "+id, err, want)
	}
}

func testListPendingTransactions(t *testing.T, s store.Store) {
	ctx := t.Context()
	tx := func(id, factorID string, created, expires time.Time) store.Transaction {
		tx := newTransaction(id, factorID, expires)
		tx.CreatedAt, tx.UpdatedAt = created, created
		return tx
	}
	txs := map[string]store.Transaction{}
	// "B" and "a" share a creation time, as do "expired" and "p-early": the id breaks the
	// tie in byte order.
	for _, tx := range []store.Transaction{
		tx("p-late", "f1", at(2*time.Minute), at(time.Hour)),
		tx("p-early", "f1", at(0), at(time.Hour)),
		tx("a", "f1", at(time.Minute), at(time.Hour)),
		tx("B", "f1", at(time.Minute), at(time.Hour)),
		tx("expired", "f1", at(0), at(10*time.Minute)),
		tx("done", "f1", at(0), at(time.Hour)),
		tx("other", "f2", at(0), at(time.Hour)),
	} {
		txs[tx.ID] = tx
	}
	for _, tx := range txs {
		mustCreateTransaction(t, s, tx)
	}
	if err := s.CompleteTransaction(ctx, "done", "SUCCESS", at(time.Second)); err != nil {
		t.Fatalf("CompleteTransaction: %v", err)
	}
	list := func(ids ...string) []store.Transaction {
		var out []store.Transaction
		for _, id := range ids {
			out = append(out, txs[id])
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		factorID string
		now      time.Time
		want     []store.Transaction
	}{
		{"before expiry", "f1", at(10*time.Minute - time.Millisecond), list("expired", "p-early", "B", "a", "p-late")},
		// ExpiresAt == now is expired.
		{"at expiry", "f1", at(10 * time.Minute), list("p-early", "B", "a", "p-late")},
		{"all expired", "f1", at(time.Hour), nil},
		{"other factor", "f2", at(0), list("other")},
		{"unknown factor", "nope", at(0), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListPendingTransactions(ctx, tc.factorID, tc.now)
			if err != nil {
				t.Fatalf("ListPendingTransactions: %v", err)
			}
			diff(t, "transactions", tc.want, got)
		})
	}
}

// --- send limits ---

// perHour is the limit most send tests use.
func perHour(n int) []store.SendLimit { return []store.SendLimit{{Window: time.Hour, Max: n}} }

// sendsWithin returns how many sends are recorded under key within window of now. It can
// only find out by reserving with growing limits, so it records one more send.
func sendsWithin(t *testing.T, s store.Store, key string, window time.Duration, now time.Time) int {
	t.Helper()
	for n := range 1000 {
		err := s.ReserveSend(t.Context(), []string{key}, []store.SendLimit{{Window: window, Max: n + 1}}, now)
		if err == nil {
			return n
		}
		if !errors.Is(err, store.ErrRateLimited) {
			t.Fatalf("ReserveSend(%q): %v", key, err)
		}
	}
	t.Fatalf("more than 1000 sends under %q", key)
	return 0
}

func testReserveSend(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		key  string
		now  time.Time
		err  error
	}{
		{"first", "user:alice", at(0), nil},
		{"second", "user:alice", at(time.Minute), nil},
		{"third", "user:alice", at(2 * time.Minute), store.ErrRateLimited},
		{"other key", "user:bob", at(2 * time.Minute), nil},
		{"first still within the window", "user:alice", at(time.Hour - time.Millisecond), store.ErrRateLimited},
		// The window is at > now-Window: a send exactly Window old has left it.
		{"first left the window", "user:alice", at(time.Hour), nil},
		{"full again", "user:alice", at(time.Hour), store.ErrRateLimited},
		{"both left the window", "user:alice", at(2 * time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ReserveSend(ctx, []string{tc.key}, perHour(2), tc.now)
			wantErr(t, "ReserveSend", err, tc.err)
		})
	}
}

func testReserveSendLimits(t *testing.T, s store.Store) {
	ctx := t.Context()
	limits := []store.SendLimit{{Window: time.Minute, Max: 1}, {Window: time.Hour, Max: 3}}
	for _, tc := range []struct {
		name  string
		now   time.Time
		err   error
		retry time.Time // a refusal's RetryAt: when the Max-th newest send leaves the window
	}{
		{"first", at(0), nil, time.Time{}},
		{"minute full", at(30 * time.Second), store.ErrRateLimited, at(time.Minute)},
		{"next minute", at(time.Minute), nil, time.Time{}},
		{"third", at(2 * time.Minute), nil, time.Time{}},
		{"hour full", at(3 * time.Minute), store.ErrRateLimited, at(time.Hour)},
		// Were the refused reservations recorded, the hour would still hold 3 (1m, 2m, 3m).
		{"first left the hour", at(time.Hour), nil, time.Time{}},
		// Both full: the minute until 1h1m (the send at 1h), the hour until 1h1m too
		// (its 3rd newest, at 1m): the later of the two.
		{"minute full again", at(time.Hour + 30*time.Second), store.ErrRateLimited, at(time.Hour + time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ReserveSend(ctx, []string{"k"}, limits, tc.now)
			wantErr(t, "ReserveSend", err, tc.err)
			var rl *store.RateLimitError
			if tc.err != nil && (!errors.As(err, &rl) || !rl.RetryAt.Equal(tc.retry)) {
				t.Errorf("ReserveSend: %v, want a RateLimitError retrying at %s", err, tc.retry)
			}
		})
	}
	// Max 0 allows none, ever.
	err := s.ReserveSend(ctx, []string{"zero"}, perHour(0), at(0))
	wantErr(t, "ReserveSend with Max 0", err, store.ErrRateLimited)
	if rl := (*store.RateLimitError)(nil); !errors.As(err, &rl) || !rl.RetryAt.IsZero() {
		t.Errorf("ReserveSend with Max 0: %v, want a RateLimitError without a time to retry", err)
	}
	if n := sendsWithin(t, s, "zero", time.Hour, at(0)); n != 0 {
		t.Errorf("refused reservation recorded %d sends", n)
	}
}

func testReserveSendKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := at(time.Minute)
	for range 2 {
		if err := s.ReserveSend(ctx, []string{"user:alice"}, perHour(2), at(0)); err != nil {
			t.Fatalf("ReserveSend: %v", err)
		}
	}
	// One key full refuses the whole reservation, and the other keys record nothing, in
	// whichever order the keys come.
	for _, keys := range [][]string{
		{"to:+15550100", "user:alice"},
		{"user:alice", "to:+15550101"},
	} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			err := s.ReserveSend(ctx, keys, perHour(2), now)
			wantErr(t, "ReserveSend with one key full", err, store.ErrRateLimited)
			other := keys[0]
			if other == "user:alice" {
				other = keys[1]
			}
			if n := sendsWithin(t, s, other, time.Hour, now); n != 0 {
				t.Errorf("refused reservation recorded %d sends under %s, want 0", n, other)
			}
		})
	}
	t.Run("all keys recorded", func(t *testing.T) {
		keys := []string{"user:bob", "to:+15550102", "ip:192.0.2.1"}
		for range 2 {
			if err := s.ReserveSend(ctx, keys, perHour(2), now); err != nil {
				t.Fatalf("ReserveSend: %v", err)
			}
		}
		for _, k := range keys {
			if n := sendsWithin(t, s, k, time.Hour, now); n != 2 {
				t.Errorf("%d sends under %s, want 2", n, k)
			}
		}
	})
	t.Run("duplicate key counts once", func(t *testing.T) {
		err := s.ReserveSend(ctx, []string{"dup", "dup"}, perHour(1), now)
		wantErr(t, "ReserveSend", err, nil)
		if n := sendsWithin(t, s, "dup", time.Hour, now); n != 1 {
			t.Errorf("%d sends under dup, want 1", n)
		}
	})
	t.Run("no keys", func(t *testing.T) {
		// Nothing to limit: even Max 0 lets it through.
		wantErr(t, "ReserveSend", s.ReserveSend(ctx, nil, perHour(0), now), nil)
	})
	t.Run("no limits", func(t *testing.T) {
		for range 3 {
			wantErr(t, "ReserveSend", s.ReserveSend(ctx, []string{"free"}, nil, now), nil)
		}
		if n := sendsWithin(t, s, "free", time.Hour, now); n != 3 {
			t.Errorf("%d sends under free, want 3", n)
		}
	})
}

func testReserveSendInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name   string
		limits []store.SendLimit
	}{
		{"zero window", []store.SendLimit{{Window: 0, Max: 1}}},
		{"negative window", []store.SendLimit{{Window: -time.Hour, Max: 1}}},
		{"negative max", []store.SendLimit{{Window: time.Hour, Max: -1}}},
		{"one bad of two", []store.SendLimit{{Window: time.Hour, Max: 5}, {Window: 0, Max: 5}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.ReserveSend(ctx, []string{"k"}, tc.limits, at(0))
			if err == nil || errors.Is(err, store.ErrRateLimited) {
				t.Errorf("ReserveSend: got %v, want an error other than ErrRateLimited", err)
			}
		})
	}
	if n := sendsWithin(t, s, "k", time.Hour, at(0)); n != 0 {
		t.Errorf("invalid reservations recorded %d sends, want 0", n)
	}
}

// testDeleteSends: every send under the key goes, however recent, and a limit reached
// under it admits again at once; other keys, and a key that only starts with it, keep
// theirs. In a unit that fails, nothing is deleted.
func testDeleteSends(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		for _, key := range []string{"signin:alice", "signin:alice2", "signin:bob"} {
			if err := s.ReserveSend(ctx, []string{key}, nil, at(time.Duration(i)*time.Minute)); err != nil {
				t.Fatalf("ReserveSend: %v", err)
			}
		}
	}
	wantErr(t, "ReserveSend at the limit", s.ReserveSend(ctx, []string{"signin:alice"}, perHour(3), at(3*time.Minute)), store.ErrRateLimited)
	boom := errors.New("boom")
	err := s.Update(ctx, func(w store.Writer) error {
		if n, err := w.DeleteSends(ctx, "signin:alice"); err != nil || n != 3 {
			t.Errorf("DeleteSends in a unit: %d, %v; want 3", n, err)
		}
		return boom
	})
	wantErr(t, "Update with a failing fn", err, boom)
	if n := sendsWithin(t, s, "signin:alice", time.Hour, at(3*time.Minute)); n != 3 {
		t.Errorf("%d sends under signin:alice after a failed unit deleted them, want 3", n)
	}
	// sendsWithin recorded one more as it counted: 4.
	n, err := s.DeleteSends(ctx, "signin:alice")
	if err != nil || n != 4 {
		t.Errorf("DeleteSends: %d, %v; want 4", n, err)
	}
	wantErr(t, "ReserveSend after DeleteSends", s.ReserveSend(ctx, []string{"signin:alice"}, perHour(3), at(3*time.Minute)), nil)
	for key, want := range map[string]int{"signin:alice": 1, "signin:alice2": 3, "signin:bob": 3} {
		if n := sendsWithin(t, s, key, time.Hour, at(4*time.Minute)); n != want {
			t.Errorf("%d sends under %s, want %d", n, key, want)
		}
	}
	if n, err := s.DeleteSends(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("DeleteSends of a key with none: %d, %v; want 0", n, err)
	}
}

func testDeleteSendsBefore(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := at(time.Hour)
	offsets := []time.Duration{-3 * time.Minute, -2 * time.Minute, -time.Millisecond, 0, time.Minute}
	for i, d := range offsets {
		if err := s.ReserveSend(ctx, []string{fmt.Sprintf("k%d", i)}, nil, cutoff.Add(d)); err != nil {
			t.Fatalf("ReserveSend: %v", err)
		}
	}
	if _, err := s.DeleteSendsBefore(ctx, cutoff, 0); err == nil {
		t.Errorf("DeleteSendsBefore with limit 0: want an error (a caller looping until n < limit would never stop)")
	}
	for _, tc := range []struct{ limit, want int }{{2, 2}, {2, 1}, {2, 0}} {
		n, err := s.DeleteSendsBefore(ctx, cutoff, tc.limit)
		if err != nil {
			t.Fatalf("DeleteSendsBefore: %v", err)
		}
		if n != tc.want {
			t.Errorf("DeleteSendsBefore(limit %d) = %d, want %d", tc.limit, n, tc.want)
		}
	}
	// k0..k2 were made before the cut-off; k3 exactly at it, which is not "before".
	for i, want := range []int{0, 0, 0, 1, 1} {
		key := fmt.Sprintf("k%d", i)
		if n := sendsWithin(t, s, key, time.Hour, cutoff.Add(2*time.Minute)); n != want {
			t.Errorf("%d sends left under %s, want %d", n, key, want)
		}
	}
}

// --- nonces ---

func testUseNonce(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, tc := range []struct {
		name         string
		scope, nonce string
		expires, now time.Time
		err          error
	}{
		{"first use", "f1", "n1", at(5 * time.Minute), at(0), nil},
		{"replay", "f1", "n1", at(10 * time.Minute), at(time.Minute), store.ErrReplay},
		{"replay just before expiry", "f1", "n1", at(10 * time.Minute), at(5*time.Minute - time.Millisecond), store.ErrReplay},
		{"other scope", "f2", "n1", at(5 * time.Minute), at(time.Minute), nil},
		{"other nonce", "f1", "n2", at(5 * time.Minute), at(time.Minute), nil},
		// expires <= now is expired: the record is replaced, with the new expiry.
		{"expired at now", "f1", "n1", at(15 * time.Minute), at(5 * time.Minute), nil},
		// Had a refused replay moved the expiry, or the replacement kept the old one, this
		// would pass.
		{"replay of the replacement", "f1", "n1", at(20 * time.Minute), at(10 * time.Minute), store.ErrReplay},
		{"replacement expired", "f1", "n1", at(20 * time.Minute), at(15 * time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.UseNonce(ctx, tc.scope, tc.nonce, tc.expires, tc.now)
			wantErr(t, "UseNonce", err, tc.err)
		})
	}
}

func testDeleteExpiredNonces(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := at(time.Hour)
	offsets := []time.Duration{-3 * time.Minute, -2 * time.Minute, -time.Millisecond, 0, time.Millisecond}
	for i, d := range offsets {
		if err := s.UseNonce(ctx, "s", fmt.Sprintf("n%d", i), cutoff.Add(d), at(0)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
	}
	if _, err := s.DeleteExpiredNonces(ctx, cutoff, 0); err == nil {
		t.Errorf("DeleteExpiredNonces with limit 0: want an error (a caller looping until n < limit would never stop)")
	}
	for _, tc := range []struct{ limit, want int }{{2, 2}, {2, 2}, {2, 0}} {
		n, err := s.DeleteExpiredNonces(ctx, cutoff, tc.limit)
		if err != nil {
			t.Fatalf("DeleteExpiredNonces: %v", err)
		}
		if n != tc.want {
			t.Errorf("DeleteExpiredNonces(limit %d) = %d, want %d", tc.limit, n, tc.want)
		}
	}
	// n0..n3 expired at or before the cut-off and are gone: using them again at a time
	// when they would not have expired succeeds. n4 expires after it and is kept.
	for i, want := range []error{nil, nil, nil, nil, store.ErrReplay} {
		nonce := fmt.Sprintf("n%d", i)
		err := s.UseNonce(ctx, "s", nonce, at(2*time.Hour), at(time.Minute))
		wantErr(t, "UseNonce "+nonce+" after cleanup", err, want)
	}
}

// --- audit ---

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	got, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatalf("ListAudit on an empty store: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("ListAudit on an empty store: got %d events", len(got))
	}
	ev := func(d time.Duration, user, outcome string) store.AuditEvent {
		return store.AuditEvent{
			Time: at(d), RequestID: "req-" + outcome, Provider: "totp", Username: user,
			Capability: "totp", FactorID: "f1", Resource: "validate", Outcome: outcome, Reason: "because",
			WebhookID: "wh-" + outcome,
		}
	}
	events := []store.AuditEvent{
		ev(0, "alice", "A"),
		ev(time.Second, "bob", "B"),
		ev(2*time.Second, "alice", "C"),
		ev(2*time.Second, "alice", "D"), // same time as C: the later append is newer
		ev(-time.Second, "bob", "E"),    // appended last but older than all
		{Time: at(time.Minute), Resource: "admin"},
	}
	for _, e := range events {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	for _, tc := range []struct {
		name string
		f    store.AuditFilter
		want []store.AuditEvent
	}{
		{"all", store.AuditFilter{}, []store.AuditEvent{events[5], events[3], events[2], events[1], events[0], events[4]}},
		{"alice", store.AuditFilter{Username: "alice"}, []store.AuditEvent{events[3], events[2], events[0]}},
		{"bob limit 1", store.AuditFilter{Username: "bob", Limit: 1}, []store.AuditEvent{events[1]}},
		{"limit 2", store.AuditFilter{Limit: 2}, []store.AuditEvent{events[5], events[3]}},
		{"nobody", store.AuditFilter{Username: "nobody"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tc.f)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			diff(t, "events", tc.want, got)
		})
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 105
	for i := range n {
		e := store.AuditEvent{Time: at(time.Duration(i) * time.Second), Username: "alice", Outcome: fmt.Sprint(i)}
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	for _, limit := range []int{0, -1} {
		got, err := s.ListAudit(ctx, store.AuditFilter{Limit: limit})
		if err != nil {
			t.Fatalf("ListAudit: %v", err)
		}
		if len(got) != 100 {
			t.Fatalf("ListAudit(limit %d): got %d events, want the default 100", limit, len(got))
		}
		if first, last := got[0].Outcome, got[99].Outcome; first != fmt.Sprint(n-1) || last != fmt.Sprint(n-100) {
			t.Errorf("ListAudit(limit %d): events %s..%s, want the newest, %d..%d", limit, first, last, n-1, n-100)
		}
	}
}

// --- context ---

func testCanceledContext(t *testing.T, s store.Store) {
	userWithFactor(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"GetFactor", func() error { _, err := s.GetFactor(ctx, "f1"); return err }},
		{"ListUserRecords", func() error { _, err := s.ListUserRecords(ctx, store.UserQuery{}); return err }},
		{"AdvanceCounter", func() error { return s.AdvanceCounter(ctx, "f1", 10, at(0)) }},
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser("u2")) }},
		{"ReserveSend", func() error { return s.ReserveSend(ctx, []string{"k"}, perHour(1), at(0)) }},
		{"DeleteSends", func() error { _, err := s.DeleteSends(ctx, "f1"); return err }},
		{"UseNonce", func() error { return s.UseNonce(ctx, "f1", "n1", at(time.Hour), at(0)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.name+" with a canceled context", tc.call(), context.Canceled)
		})
	}
	// Nothing was written.
	if f := mustGetFactor(t, s, "f1"); f.Counter != -1 {
		t.Errorf("Counter = %d after a canceled AdvanceCounter, want -1", f.Counter)
	}
	if n := sendsWithin(t, s, "k", time.Hour, at(0)); n != 0 {
		t.Errorf("%d sends after a canceled ReserveSend, want 0", n)
	}
	wantErr(t, "UseNonce after a canceled UseNonce", s.UseNonce(t.Context(), "f1", "n1", at(time.Hour), at(0)), nil)
}

// --- concurrency ---

// concurrently runs fn n times at once and returns the errors, one per call. The calls are
// released together so they contend instead of trickling in as goroutines start.
func concurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// countErrs counts nil errors and errors matching want; any other error fails the test.
func countErrs(t *testing.T, errs []error, want error) (ok, matched int) {
	t.Helper()
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, want):
			matched++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	return ok, matched
}

func testConcurrentAdvanceCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	const n = 50
	errs := concurrently(n, func(int) error { return s.AdvanceCounter(ctx, "f1", 42, at(time.Minute)) })
	if ok, replays := countErrs(t, errs, store.ErrReplay); ok != 1 || replays != n-1 {
		t.Errorf("%d concurrent AdvanceCounter(42): %d succeeded, %d replays; want 1 and %d", n, ok, replays, n-1)
	}
	if f := mustGetFactor(t, s, "f1"); f.Counter != 42 {
		t.Errorf("Counter = %d, want 42", f.Counter)
	}
}

func testConcurrentCompleteTransaction(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateTransaction(t, s, newTransaction("t1", "f1", at(time.Hour)))
	const n = 50
	errs := concurrently(n, func(i int) error {
		return s.CompleteTransaction(ctx, "t1", fmt.Sprintf("DONE-%d", i), at(time.Minute))
	})
	ok, conflicts := countErrs(t, errs, store.ErrConflict)
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d concurrent CompleteTransaction: %d succeeded, %d conflicts; want 1 and %d", n, ok, conflicts, n-1)
	}
	// The stored status is the winner's.
	var winner string
	for i, err := range errs {
		if err == nil {
			winner = fmt.Sprintf("DONE-%d", i)
		}
	}
	if got := mustGetTransaction(t, s, "t1").Status; got != winner {
		t.Errorf("Status = %q, want the winner's %q", got, winner)
	}
}

func testConcurrentRecordFailure(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s)
	const n = 20
	errs := concurrently(n, func(int) error {
		_, err := s.RecordFailure(ctx, "f1", at(time.Minute), 0, time.Hour)
		return err
	})
	countErrs(t, errs, nil)
	if f := mustGetFactor(t, s, "f1"); f.Failures != n {
		t.Errorf("Failures = %d after %d concurrent RecordFailure, want %d", f.Failures, n, n)
	}
}

func testConcurrentAddAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateTransaction(t, s, newTransaction("t1", "f1", at(time.Hour)))
	const n = 20
	var mu sync.Mutex
	seen := make(map[int]bool)
	errs := concurrently(n, func(int) error {
		c, err := s.AddAttempt(ctx, "t1", at(time.Minute))
		mu.Lock()
		defer mu.Unlock()
		seen[c] = true
		return err
	})
	countErrs(t, errs, nil)
	// Each call saw its own count: no two read the same value before writing.
	for i := 1; i <= n; i++ {
		if !seen[i] {
			t.Errorf("no AddAttempt returned %d; returned %v", i, seen)
		}
	}
}

func testConcurrentActivateFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	f := newFactor("f1", "u1", at(0))
	f.State = store.FactorPending
	mustCreateFactor(t, s, f)
	const n = 20
	errs := concurrently(n, func(i int) error {
		return s.ActivateFactor(ctx, "f1", map[string]string{"device": fmt.Sprint(i)}, at(time.Minute))
	})
	ok, conflicts := countErrs(t, errs, store.ErrConflict)
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d concurrent ActivateFactor: %d succeeded, %d conflicts; want 1 and %d", n, ok, conflicts, n-1)
	}
	// The stored params are the winner's.
	want := f
	want.State, want.UpdatedAt = store.FactorActive, at(time.Minute)
	for i, err := range errs {
		if err == nil {
			want.Params = map[string]string{"device": fmt.Sprint(i)}
		}
	}
	diff(t, "factor", want, mustGetFactor(t, s, "f1"))
}

// Enrollments side by side, each in its unit, take a user to its most factors and no
// further; alone, outside a unit, the bound holds too.
func testConcurrentCreateFactorWithin(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	mustCreateFactor(t, s, newFactor("f0", "u1", at(0)))
	const n, most = 20, 4
	errs := concurrently(n, func(i int) error {
		return s.Update(ctx, func(w store.Writer) error {
			return w.CreateFactorWithin(ctx, newFactor(fmt.Sprint("f", i+1), "u1", at(0)), most, store.Alike{})
		})
	})
	if ok, full := countErrs(t, errs, store.ErrTooMany); ok != most-1 || full != n-most+1 {
		t.Errorf("%d concurrent CreateFactorWithin (most %d, one there): %d created, %d refused; want %d and %d",
			n, most, ok, full, most-1, n-most+1)
	}
	wantErr(t, "CreateFactorWithin alone, at the most", s.CreateFactorWithin(ctx, newFactor("g", "u1", at(0)), most, store.Alike{}), store.ErrTooMany)
	if fs, err := s.ListFactors(ctx, "u1"); err != nil || len(fs) != most {
		t.Errorf("u1 has %d factors (%v), want %d", len(fs), err, most)
	}
	wantErr(t, "CreateFactorWithin for a missing user", s.CreateFactorWithin(ctx, newFactor("h", "nobody", at(0)), most, store.Alike{}), store.ErrNotFound)
}

// Enrollments side by side of factors alike (store.Alike) store one of them; factors of
// another type, or another value of the param, are not alike, and a zero Alike finds none.
func testCreateFactorWithinAlike(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1"))
	const most = 20
	sms := func(id, phone string) store.Factor {
		f := newFactor(id, "u1", at(0))
		f.Type, f.Params = "smsotp", map[string]string{"phone": phone, "origin": "x"}
		return f
	}
	byPhone := store.Alike{Type: true, Param: "phone"}
	errs := concurrently(8, func(i int) error {
		return s.Update(ctx, func(w store.Writer) error {
			return w.CreateFactorWithin(ctx, sms(fmt.Sprint("s", i), "a@example.com"), most, byPhone)
		})
	})
	if ok, alike := countErrs(t, errs, store.ErrAlike); ok != 1 || alike != 7 {
		t.Errorf("8 concurrent CreateFactorWithin alike: %d created, %d refused; want 1 and 7", ok, alike)
	}
	wantErr(t, "CreateFactorWithin alike, another case", s.CreateFactorWithin(ctx, sms("t1", "A@Example.COM"), most, byPhone), store.ErrAlike)
	wantErr(t, "CreateFactorWithin of another phone", s.CreateFactorWithin(ctx, sms("t2", "b@example.com"), most, byPhone), nil)
	other := sms("t3", "a@example.com")
	other.Type = "voicecall"
	wantErr(t, "CreateFactorWithin of another type", s.CreateFactorWithin(ctx, other, most, byPhone), nil)
	wantErr(t, "CreateFactorWithin of a type alike", s.CreateFactorWithin(ctx, sms("t4", "c@example.com"), most, store.Alike{Type: true}), store.ErrAlike)
	wantErr(t, "CreateFactorWithin, none alike", s.CreateFactorWithin(ctx, sms("t5", "a@example.com"), most, store.Alike{}), nil)
	wantErr(t, "CreateFactorWithin of a first totp", s.CreateFactorWithin(ctx, newFactor("t6", "u1", at(0)), most, store.Alike{Type: true}), nil)
}

// A user change's factors created within a bound (UserChange.FactorsWithin) are refused,
// that change alone, beside a factor alike or at the bound; within it they are created,
// in a batch as one by one.
func testUserChangeFactorsWithin(t *testing.T, s store.Store) {
	mustCreateUser(t, s, newUser("u1"))
	mustCreateUser(t, s, newUser("u2"))
	sms := func(id, user, phone string) store.Factor {
		f := newFactor(id, user, at(0))
		f.Type, f.Params = "smsotp", map[string]string{"phone": phone}
		return f
	}
	mustCreateFactor(t, s, sms("a1", "u1", "+15550001"))
	byPhone := []store.Alike{{Type: true, Param: "phone"}}
	change := func(user string, most int, f store.Factor) store.UserChange {
		return store.UserChange{Name: "name-" + user, Now: at(0), CreateFactors: []store.Factor{f}, FactorsWithin: most, FactorsAlike: byPhone}
	}
	errs := apply(t, s, change("u1", 10, sms("b1", "u1", "+15550001")), change("u2", 10, sms("b2", "u2", "+15550001")))
	wantErr(t, "a factor alike", errs[0], store.ErrAlike)
	wantErr(t, "a factor of another user", errs[1], nil)
	errs = apply(t, s, change("u1", 1, sms("c1", "u1", "+15550002")), change("u2", 10, sms("c2", "u2", "+15550002")))
	wantErr(t, "a factor past the bound", errs[0], store.ErrTooMany)
	wantErr(t, "a factor within the bound", errs[1], nil)
	mustApply(t, s, change("u1", 10, sms("d1", "u1", "+15550002")), change("u2", 10, sms("d2", "u2", "+15550003")))
	// A pending factor re-pointed to a phone another factor of its type has is refused.
	pending := sms("e1", "u1", "+15550009")
	pending.State = store.FactorPending
	mustCreateFactor(t, s, pending)
	repoint := func(phone string) store.UserChange {
		return store.UserChange{Name: "name-u1", Now: at(0), UpdateFactors: []store.FactorUpdate{{ID: "e1", Label: "x",
			Params: map[string]string{"phone": phone}, IfPending: true, Alike: byPhone[0]}}}
	}
	errs = apply(t, s, repoint("+15550001"), change("u2", 10, sms("e2", "u2", "+15550004")))
	wantErr(t, "a factor re-pointed to a phone alike", errs[0], store.ErrStale)
	wantErr(t, "the batch's other change", errs[1], nil)
	mustApply(t, s, repoint("+15550008"))
	if f := mustGetFactor(t, s, "e1"); f.Params["phone"] != "+15550008" {
		t.Errorf("re-pointed: %v", f.Params)
	}
	for user, want := range map[string]int{"u1": 3, "u2": 4} {
		if fs, err := s.ListFactors(t.Context(), user); err != nil || len(fs) != want {
			t.Errorf("%s has %d factors (%v), want %d", user, len(fs), err, want)
		}
	}
}

func testConcurrentReserveSend(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, maxSends = 20, 5
	errs := concurrently(n, func(int) error {
		return s.ReserveSend(ctx, []string{"user:alice"}, perHour(maxSends), at(0))
	})
	if ok, limited := countErrs(t, errs, store.ErrRateLimited); ok != maxSends || limited != n-maxSends {
		t.Errorf("%d concurrent ReserveSend (max %d): %d succeeded, %d limited; want %d and %d",
			n, maxSends, ok, limited, maxSends, n-maxSends)
	}
	if got := sendsWithin(t, s, "user:alice", time.Hour, at(time.Minute)); got != maxSends {
		t.Errorf("%d sends recorded, want %d", got, maxSends)
	}
}

// testConcurrentReserveSendKeys reserves under two keys at once, named in either order and
// sharing one key between all callers: the shared key bounds the total, and a backend
// that locks keys in the order given would deadlock.
func testConcurrentReserveSendKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n, maxSends = 20, 5
	keySets := [][]string{
		{"user:alice", "to:+15550100"},
		{"to:+15550100", "user:alice"},
		{"to:+15550101", "user:alice"},
	}
	errs := concurrently(n, func(i int) error {
		return s.ReserveSend(ctx, keySets[i%len(keySets)], perHour(maxSends), at(0))
	})
	if ok, limited := countErrs(t, errs, store.ErrRateLimited); ok != maxSends || limited != n-maxSends {
		t.Errorf("%d concurrent ReserveSend (max %d): %d succeeded, %d limited; want %d and %d",
			n, maxSends, ok, limited, maxSends, n-maxSends)
	}
	var phones int
	for i, err := range errs {
		if err == nil && i%len(keySets) == 2 {
			phones++
		}
	}
	now := at(time.Minute)
	if got := sendsWithin(t, s, "user:alice", time.Hour, now); got != maxSends {
		t.Errorf("%d sends under user:alice, want %d", got, maxSends)
	}
	// Every success recorded under both its keys, every refusal under neither.
	if got := sendsWithin(t, s, "to:+15550101", time.Hour, now); got != phones {
		t.Errorf("%d sends under to:+15550101, want %d", got, phones)
	}
	if got := sendsWithin(t, s, "to:+15550100", time.Hour, now); got != maxSends-phones {
		t.Errorf("%d sends under to:+15550100, want %d", got, maxSends-phones)
	}
}

func testConcurrentUseNonce(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 20
	t.Run("new", func(t *testing.T) {
		errs := concurrently(n, func(int) error { return s.UseNonce(ctx, "f1", "n1", at(time.Hour), at(0)) })
		if ok, replays := countErrs(t, errs, store.ErrReplay); ok != 1 || replays != n-1 {
			t.Errorf("%d concurrent UseNonce: %d succeeded, %d replays; want 1 and %d", n, ok, replays, n-1)
		}
	})
	t.Run("expired", func(t *testing.T) {
		if err := s.UseNonce(ctx, "f1", "n2", at(time.Minute), at(0)); err != nil {
			t.Fatalf("UseNonce: %v", err)
		}
		// Replacing the expired record is the race here.
		errs := concurrently(n, func(int) error {
			return s.UseNonce(ctx, "f1", "n2", at(time.Hour), at(2*time.Minute))
		})
		if ok, replays := countErrs(t, errs, store.ErrReplay); ok != 1 || replays != n-1 {
			t.Errorf("%d concurrent UseNonce of an expired nonce: %d succeeded, %d replays; want 1 and %d",
				n, ok, replays, n-1)
		}
	})
}

func testDeleteAuditBefore(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 5 {
		ev := store.AuditEvent{Time: at(time.Duration(i) * time.Hour), RequestID: fmt.Sprint(i), Provider: "p",
			Username: "alice", Resource: "validate", Outcome: "SUCCESS"}
		if err := s.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteAuditBefore(ctx, at(3*time.Hour), 0); err == nil {
		t.Error("DeleteAuditBefore with limit 0: want an error")
	}
	// Events at 0h, 1h, 2h are older than 3h; two batches of 2 remove them, oldest first.
	if n, err := s.DeleteAuditBefore(ctx, at(3*time.Hour), 2); err != nil || n != 2 {
		t.Fatalf("first batch: %d, %v", n, err)
	}
	left, err := s.ListAudit(ctx, store.AuditFilter{})
	if err != nil || len(left) != 3 || left[len(left)-1].RequestID != "2" {
		t.Fatalf("after the first batch: %+v %v", left, err)
	}
	if n, err := s.DeleteAuditBefore(ctx, at(3*time.Hour), 2); err != nil || n != 1 {
		t.Fatalf("second batch: %d, %v", n, err)
	}
	left, _ = s.ListAudit(ctx, store.AuditFilter{})
	if len(left) != 2 || left[0].RequestID != "4" || left[1].RequestID != "3" {
		t.Errorf("kept %+v, want the events at 4h and 3h", left)
	}
}
