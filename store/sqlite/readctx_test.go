package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/emfa/emfa/internal/rusage"
)

// TestReadCanceledContext: a keyed read under a context already canceled still
// fails with its error, as it did before the reads stopped watching the context.
func TestReadCanceledContext(t *testing.T) {
	st := openReadStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for name, call := range map[string]func() error{
		"GetUser":                     func() error { _, err := st.GetUser(ctx, "alice"); return err },
		"GetUserByID":                 func() error { _, err := st.GetUserByID(ctx, "u1"); return err },
		"UserDisabled":                func() error { _, err := st.UserDisabled(ctx, "alice"); return err },
		"GetFactor":                   func() error { _, err := st.GetFactor(ctx, "f1"); return err },
		"GetFactorAndUser":            func() error { _, _, err := st.GetFactorAndUser(ctx, "f1", "alice"); return err },
		"GetFactorUserAndTransaction": func() error { _, _, _, err := st.GetFactorUserAndTransaction(ctx, "f1", "alice", "t1"); return err },
	} {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s under a canceled context: %v, want context.Canceled", name, err)
		}
	}
}

// BenchmarkReadPair is a validation's read and a mediated call's (GetFactorAndUser,
// UserDisabled) under a request's context, which can be canceled, with the process's CPU
// time per pair (cpu-µs/op), which ns/op on a shared machine hides.
func BenchmarkReadPair(b *testing.B) {
	st := openReadStoreB(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ReportAllocs()
	cpu := rusage.Process()
	for b.Loop() {
		if _, u, err := st.GetFactorAndUser(ctx, "f1", "alice"); err != nil || u.ID != "u1" {
			b.Fatal(u, err)
		}
		if off, err := st.UserDisabled(ctx, "alice"); err != nil || off {
			b.Fatal(off, err)
		}
	}
	b.ReportMetric(float64((rusage.Process()-cpu).Nanoseconds())/float64(b.N)/1e3, "cpu-µs/op")
}

// TestEnrollmentsReadCancelableContextAllocs: Verify's lookup before every
// challenge (ListEnabledFactors) costs no more under a request's context than under one
// that cannot be canceled, but for the context without its cancellation.
func TestEnrollmentsReadCancelableContextAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	st := openReadStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	list := func(ctx context.Context) func() {
		return func() {
			if fs, err := st.ListEnabledFactors(ctx, "alice"); err != nil || len(fs) != 1 {
				t.Fatal(fs, err)
			}
		}
	}
	bg, cc := allocsPerCall(t, list(context.Background())), allocsPerCall(t, list(ctx))
	t.Logf("ListEnabledFactors: %.0f allocs under context.Background, %.0f under a cancelable context", bg, cc)
	if cc > bg+1 {
		t.Errorf("ListEnabledFactors allocates %.0f times under a cancelable context, want at most %.0f", cc, bg+1)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := st.ListEnabledFactors(canceled, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("ListEnabledFactors under a canceled context: %v, want context.Canceled", err)
	}
}
