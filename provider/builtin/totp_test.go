package builtin_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// clock is a fake clock shared by the engine and the test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var rfcSeed = []byte("12345678901234567890")

type fixture struct {
	engine *builtin.Engine
	store  store.Store
	clock  *clock
	factor string // alice's TOTP factor
	other  string // bob's TOTP factor
}

func newFixture(t *testing.T, st store.Store) *fixture {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Unix(1111111109, 0).UTC()}
	e := newEngine(t, st, clk.Now, &engineConfig{section: map[string]any{
		"totp":    map[string]any{"window": 1},
		"lockout": map[string]any{"maxFailures": 3, "duration": 15 * time.Minute},
	}})
	f := &fixture{engine: e, store: st, clock: clk}
	for _, name := range []string{"alice", "bob"} {
		if err := st.CreateUser(ctx, store.User{ID: "u-" + name, Name: name, CreatedAt: clk.Now()}); err != nil {
			t.Fatal(err)
		}
		enrolled, err := e.Enroll(ctx, enrollment("totp", name, "secret", builtin.EncodeSecret(rfcSeed), "name", name+"'s phone"))
		if err != nil {
			t.Fatal(err)
		}
		if name == "alice" {
			f.factor = enrolled.Factor.ID
		} else {
			f.other = enrolled.Factor.ID
		}
	}
	return f
}

// code is the 6-digit RFC 6238 code at the fixture's time plus offset steps.
func (f *fixture) code(offset int64) string {
	return builtin.HOTP(builtin.SHA1, rfcSeed, uint64(f.clock.Now().Unix()/30+offset), 6)
}

func (f *fixture) validate(t *testing.T, user, factor, code string) provider.Outcome {
	t.Helper()
	out, err := f.engine.Validate(context.Background(), provider.Request{Capability: "totp", ID: factor, Username: user, Passvalue: code})
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	return out
}

func TestTOTPValidate(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		// 1111111109 is RFC 6238's vector: the 8-digit code 07081804 ends in 081804.
		if got := f.code(0); got != "081804" {
			t.Fatalf("fixture code %s, want 081804", got)
		}
		steps := []struct {
			name, user, factor, code string
			advance                  time.Duration
			want                     provider.Status
			reason                   string
		}{
			{"wrong code", "alice", f.factor, "000000", 0, provider.StatusFailed, "wrong code"},
			{"malformed code", "alice", f.factor, "12ab56", 0, provider.StatusFailed, "malformed"},
			{"another user's factor", "bob", f.factor, f.code(0), 0, provider.StatusFailed, "another user"},
			{"unknown factor", "alice", "nope", f.code(0), 0, provider.StatusFailed, "unknown factor"},
			{"unknown user", "mallory", f.factor, f.code(0), 0, provider.StatusFailed, "unknown user"},
			{"previous step within window", "alice", f.factor, f.code(-1), 0, provider.StatusSuccess, ""},
			{"current step", "alice", f.factor, f.code(0), 0, provider.StatusSuccess, ""},
			{"replay of current", "alice", f.factor, f.code(0), 0, provider.StatusFailed, "replayed"},
			{"older step after newer accepted", "alice", f.factor, f.code(-1), 0, provider.StatusFailed, "replayed"},
			{"next step within window", "alice", f.factor, f.code(1), 0, provider.StatusSuccess, ""},
			{"two steps ahead is outside", "alice", f.factor, f.code(2), 0, provider.StatusFailed, "wrong code"},
			{"later, a fresh code", "alice", f.factor, "", 5 * time.Minute, provider.StatusSuccess, ""},
			{"the user's name in another case", "Alice", f.factor, "", 5 * time.Minute, provider.StatusSuccess, ""},
			{"its replay, in a third case", "ALICE", f.factor, "", 0, provider.StatusFailed, "replayed"},
		}
		for _, s := range steps {
			f.clock.Advance(s.advance)
			code := s.code
			if code == "" {
				code = f.code(0)
			}
			out := f.validate(t, s.user, s.factor, code)
			if out.Status != s.want || !strings.Contains(out.Reason, s.reason) {
				t.Errorf("%s: got %s (%q), want %s (%q)", s.name, out.Status, out.Reason, s.want, s.reason)
			}
		}
	})
}

// Two steps can share a code (one pair in a million). The code of an unused step is that
// step's, even when a step already used in the window has the same code: it is accepted, not
// taken for a replay of the used one. Sent again, it is a replay.
func TestTOTPCodeSharedWithUsedStep(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		// RFC 6238's seed gives steps 37079356 and 37079357 the same code, 186519.
		f.clock.Advance(time.Unix(37079356*30, 0).Sub(f.clock.Now()))
		if f.code(0) != "186519" || f.code(1) != "186519" {
			t.Fatalf("fixture codes %s and %s, want both 186519", f.code(0), f.code(1))
		}
		if out := f.validate(t, "alice", f.factor, "186519"); out.Status != provider.StatusSuccess {
			t.Fatalf("step 37079356: %s (%q)", out.Status, out.Reason)
		}
		f.clock.Advance(30 * time.Second)
		if out := f.validate(t, "alice", f.factor, "186519"); out.Status != provider.StatusSuccess {
			t.Errorf("step 37079357, whose code step 37079356 also had: %s (%q), want SUCCESS", out.Status, out.Reason)
		}
		if out := f.validate(t, "alice", f.factor, "186519"); out.Status != provider.StatusFailed || out.Reason != "replayed code" {
			t.Errorf("the same code once more: %s (%q), want FAILED (replayed code)", out.Status, out.Reason)
		}
	})
}

func TestTOTPLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		for i := range 3 {
			if out := f.validate(t, "alice", f.factor, "000000"); out.Status != provider.StatusFailed {
				t.Fatalf("failure %d: %s", i, out.Status)
			}
		}
		// Locked: even the right code fails, and says so in the reason.
		if out := f.validate(t, "alice", f.factor, f.code(0)); out.Status != provider.StatusFailed || !strings.Contains(out.Reason, "locked") {
			t.Fatalf("locked factor: %s %q", out.Status, out.Reason)
		}
		// A replay does not count toward the lockout; bob is unaffected.
		if out := f.validate(t, "bob", f.other, f.code(0)); out.Status != provider.StatusSuccess {
			t.Fatalf("bob: %s %q", out.Status, out.Reason)
		}
		for range 5 {
			f.validate(t, "bob", f.other, f.code(0)) // replays
		}
		f.clock.Advance(30 * time.Second)
		if out := f.validate(t, "bob", f.other, f.code(0)); out.Status != provider.StatusSuccess {
			t.Fatalf("replays locked bob out: %s %q", out.Status, out.Reason)
		}
		// The lockout ends by itself.
		f.clock.Advance(15 * time.Minute)
		if out := f.validate(t, "alice", f.factor, f.code(0)); out.Status != provider.StatusSuccess {
			t.Fatalf("after the lockout: %s %q", out.Status, out.Reason)
		}
		fac, err := st.GetFactor(context.Background(), f.factor)
		if err != nil || fac.Failures != 0 || !fac.LockedUntil.IsZero() {
			t.Errorf("success must clear failures: %+v %v", fac, err)
		}
	})
}

func TestDisabledFactorAndUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		if err := st.SetFactorState(ctx, f.factor, store.FactorDisabled, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if out := f.validate(t, "alice", f.factor, f.code(0)); out.Status != provider.StatusFailed {
			t.Errorf("disabled factor validated: %s", out.Status)
		}
		if list, _ := f.engine.Enrollments(ctx, "alice"); len(list) != 0 {
			t.Errorf("disabled factor listed: %+v", list)
		}
		list, err := f.engine.Enrollments(ctx, "bob")
		if err != nil || len(list) != 1 || list[0].ID != f.other || list[0].Attributes["authExecutionFlow"] != "validate" || list[0].Attributes["deviceName"] != "bob's phone" {
			t.Errorf("bob's enrollments: %+v %v", list, err)
		}
		if err := st.SetUserDisabled(ctx, "bob", true); err != nil {
			t.Fatal(err)
		}
		if list, _ := f.engine.Enrollments(ctx, "bob"); len(list) != 0 {
			t.Errorf("disabled user listed: %+v", list)
		}
		if out := f.validate(t, "bob", f.other, f.code(0)); out.Status != provider.StatusFailed {
			t.Errorf("disabled user validated: %s", out.Status)
		}
		if list, err := f.engine.Enrollments(ctx, "nobody"); err != nil || len(list) != 0 {
			t.Errorf("unknown user: %+v %v", list, err)
		}
	})
}

// RFC 6238 §5.2: the verifier must not accept the second attempt of a code. Fifty
// concurrent validations of one valid code: exactly one succeeds.
func TestTOTPConcurrentReplay(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		code := f.code(0)
		var wg sync.WaitGroup
		var successes, failures atomic.Int32
		for range 50 {
			wg.Go(func() {
				out, err := f.engine.Validate(context.Background(), provider.Request{Capability: "totp", ID: f.factor, Username: "alice", Passvalue: code})
				switch {
				case err != nil:
					t.Errorf("validate: %v", err)
				case out.Status == provider.StatusSuccess:
					successes.Add(1)
				default:
					failures.Add(1)
				}
			})
		}
		wg.Wait()
		if successes.Load() != 1 || failures.Load() != 49 {
			t.Errorf("successes %d, failures %d; want exactly 1 and 49", successes.Load(), failures.Load())
		}
	})
}

func TestEnrollTOTP(t *testing.T) {
	st := testdb.SQLite(t)
	f := newFixture(t, st)
	ctx := context.Background()
	got, err := f.engine.Enroll(ctx, enrollment("totp", "alice", "algorithm", "SHA256", "digits", "8", "period", "60"))
	if err != nil {
		t.Fatal(err)
	}
	uri, secret := got.Output["otpauthURI"].(string), got.Output["secret"].(string)
	for _, want := range []string{"otpauth://totp/emfa:alice?", "algorithm=SHA256", "digits=8", "period=60", "secret=" + secret} {
		if !strings.Contains(uri, want) {
			t.Errorf("uri %s lacks %s", uri, want)
		}
	}
	seed, _ := builtin.DecodeSecret(secret)
	if len(seed) != 32 {
		t.Errorf("generated SHA256 seed is %d bytes, want 32", len(seed))
	}
	stored, err := st.GetFactor(ctx, got.Factor.ID)
	if err != nil || bytes.Contains(stored.Secret, seed) || stored.KeyID == "" {
		t.Errorf("seed not sealed at rest: %+v %v", stored, err)
	}
	code := builtin.HOTP(builtin.SHA256, seed, uint64(f.clock.Now().Unix()/60), 8)
	if out := f.validate(t, "alice", got.Factor.ID, code); out.Status != provider.StatusSuccess {
		t.Errorf("new factor: %s %q", out.Status, out.Reason)
	}
	for _, bad := range [][]string{{"digits", "7"}, {"period", "5"}, {"secret", builtin.EncodeSecret([]byte("short"))}, {"algorithm", "MD5"}, {"secret", "!!"}} {
		if _, err := f.engine.Enroll(ctx, enrollment("totp", "alice", bad...)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if _, err := f.engine.Enroll(ctx, enrollment("totp", "nobody")); err == nil {
		t.Error("factor for an unknown user accepted")
	}
	factors, _ := st.ListFactors(ctx, "u-alice")
	if len(factors) != 2 {
		t.Errorf("refused enrollments left records: %d factors", len(factors))
	}
}

// TestTOTPDriftHint: a wrong code that is the code of a step outside the window, within
// five minutes, says in its reason (the audit row, never the answer) how far the
// device's clock seems off; it still fails. A code further off says nothing more.
func TestTOTPDriftHint(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newFixture(t, st)
		for _, c := range []struct {
			offset int64
			reason string
		}{
			{4, "wrong code; it is the code of 2m0s later: the device's clock may be 2m0s fast"},
			{-6, "wrong code; it is the code of 3m0s earlier: the device's clock may be 3m0s slow"},
			{20, "wrong code"},
		} {
			out := f.validate(t, "alice", f.factor, f.code(c.offset))
			reason, _, _ := strings.Cut(out.Reason, "; 3 failures") // the third locks the factor
			if out.Status != provider.StatusFailed || reason != c.reason {
				t.Errorf("code of step %+d: %s %q, want FAILED %q", c.offset, out.Status, out.Reason, c.reason)
			}
		}
	})
}
