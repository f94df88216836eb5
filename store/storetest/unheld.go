package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// testKeysNoRowHolds: a user's name, a user's id or a factor's id that holds a NUL or
// bytes that are not UTF-8 (as an admin API URL or a form may carry) finds nothing, on
// every backend: ErrNotFound, or an empty list. PostgreSQL's text holds neither, and
// refused the statement instead (a fault, which the admin API answers 503). A change or a
// unit's write that names one fails alone: the batch's other changes, and the unit's
// other writes, are made.
func testKeysNoRowHolds(t *testing.T, s store.Store) {
	ctx := t.Context()
	userWithFactor(t, s) // u1 "name-u1", f1
	yes := true
	for _, bad := range []string{"a\x00b", "a\xffb", "\xc3"} {
		_, err := s.GetUser(ctx, bad)
		wantErr(t, "GetUser", err, store.ErrNotFound)
		_, err = s.GetUserRecord(ctx, bad)
		wantErr(t, "GetUserRecord", err, store.ErrNotFound)
		_, err = s.GetUserByID(ctx, bad)
		wantErr(t, "GetUserByID", err, store.ErrNotFound)
		if d, err := s.UserDisabled(ctx, bad); d || err != nil {
			t.Fatalf("UserDisabled(%q) = %v, %v; want false, nil", bad, d, err)
		}
		_, err = s.GetFactor(ctx, bad)
		wantErr(t, "GetFactor", err, store.ErrNotFound)
		_, _, err = s.GetFactorAndUser(ctx, bad, "name-u1")
		wantErr(t, "GetFactorAndUser by factor", err, store.ErrNotFound)
		if f, u, err := s.GetFactorAndUser(ctx, "f1", bad); err != nil || f.ID != "f1" || u.ID != "" {
			t.Fatalf("GetFactorAndUser(f1, %q) = %s, %+v, %v; want f1 and no user", bad, f.ID, u, err)
		}
		_, err = s.GetTransaction(ctx, bad)
		wantErr(t, "GetTransaction", err, store.ErrNotFound)
		if fs, err := s.ListFactors(ctx, bad); err != nil || len(fs) != 0 {
			t.Fatalf("ListFactors(%q) = %v, %v; want none", bad, fs, err)
		}
		if rs, err := s.ListUserRecords(ctx, store.UserQuery{Prefix: bad}); err != nil || len(rs) != 0 {
			t.Fatalf("ListUserRecords(prefix %q) = %v, %v; want none", bad, rs, err)
		}
		if es, err := s.QueryAudit(ctx, store.AuditQuery{Username: bad}); err != nil || len(es) != 0 {
			t.Fatalf("QueryAudit(%q) = %v, %v; want none", bad, es, err)
		}
		wantErr(t, "SetUserDisabled", s.SetUserDisabled(ctx, bad, true), store.ErrNotFound)
		wantErr(t, "DeleteUser", s.DeleteUser(ctx, bad), store.ErrNotFound)
		wantErr(t, "SetFactorState", s.SetFactorState(ctx, bad, store.FactorDisabled, at(time.Second)), store.ErrNotFound)
		wantErr(t, "DeleteFactor", s.DeleteFactor(ctx, bad), store.ErrNotFound)
		wantErr(t, "ResetFailures", s.ResetFailures(ctx, bad, at(time.Second)), store.ErrNotFound)

		// In a batch of changes, beside one that applies.
		errs := apply(t, s,
			store.UserChange{Name: bad, Disabled: &yes, Now: at(time.Second)},
			store.UserChange{Name: "name-u1", DeleteFactors: []string{bad}, Now: at(time.Second)},
			store.UserChange{Name: "name-u1", Disabled: &yes, Now: at(time.Second)})
		if !errors.Is(errs[0], store.ErrNotFound) || !errors.Is(errs[1], store.ErrNotFound) || errs[2] != nil {
			t.Fatalf("ApplyUserChanges naming %q, then u1: %v; want not found twice, then applied", bad, errs)
		}
		if u, err := s.GetUser(ctx, "name-u1"); err != nil || !u.Disabled {
			t.Fatalf("u1 after the batch: %+v, %v; want disabled", u, err)
		}
		wantErr(t, "SetUserDisabled u1", s.SetUserDisabled(ctx, "name-u1", false), nil)

		// In a unit, beside a write that commits. What the unit was told is checked once
		// Update has returned: a store may run fn speculatively first (store.Store.Update).
		f := mustGetFactor(t, s, "f1")
		var told error
		err = s.Update(ctx, func(w store.Writer) error {
			told = w.AdvanceCounter(ctx, bad, f.Counter+1, at(time.Second))
			return w.AdvanceCounter(ctx, "f1", f.Counter+1, at(time.Second))
		})
		wantErr(t, "Update after a write naming "+bad, err, nil)
		if !errors.Is(told, store.ErrNotFound) {
			t.Errorf("AdvanceCounter(%q) in a unit: %v; want not found", bad, told)
		}
		if got := mustGetFactor(t, s, "f1"); got.Counter != f.Counter+1 {
			t.Fatalf("f1's counter after the unit: %d; want %d", got.Counter, f.Counter+1)
		}
	}
}
