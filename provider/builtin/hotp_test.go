package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"slices"
	"strconv"
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

// RFC 4226 Appendix D: the secret "12345678901234567890", counters 0 to 9.
var rfc4226Codes = []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}

func (f *engineFixture) enrollHOTP(t testing.TB, user string, counter int64) string {
	t.Helper()
	return f.enroll(t, "hotp", user, "secret", builtin.EncodeSecret(rfcSeed), "counter", strconv.FormatInt(counter, 10)).Factor.ID
}

func hotpCode(counter uint64) string { return builtin.HOTP(builtin.SHA1, rfcSeed, counter, 6) }

func TestHOTPValidateRFC4226Vectors(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollHOTP(t, "alice", 0)
		for i, code := range rfc4226Codes {
			if got := hotpCode(uint64(i)); got != code {
				t.Fatalf("HOTP(%d) = %s, RFC 4226 says %s", i, got, code)
			}
			expect(t, "counter "+code, f.validate(t, "alice", "hotp", id, "", code), provider.StatusSuccess, "accepted")
		}
		fac, _ := st.GetFactor(context.Background(), id)
		if fac.Counter != 9 {
			t.Errorf("counter %d, want 9", fac.Counter)
		}
	})
}

func TestHOTPWindow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("hotp.window", 10) })
		id := f.enrollHOTP(t, "alice", 0)
		steps := []struct {
			name    string
			counter uint64
			want    provider.Status
			reason  string
		}{
			{"ten ahead is outside (0-9 accepted)", 10, provider.StatusFailed, "wrong code (not among the 10 counter values after -1)"},
			{"last value of the window", 9, provider.StatusSuccess, "counter 9 accepted"},
			{"the code just accepted", 9, provider.StatusFailed, "replayed code"},
			{"an older code", 5, provider.StatusFailed, "wrong code"},
			{"window moved: 19 is in", 19, provider.StatusSuccess, "counter 19 accepted"},
			{"30 is out", 30, provider.StatusFailed, "wrong code"},
			{"20 is next", 20, provider.StatusSuccess, ""},
		}
		for _, s := range steps {
			expect(t, s.name, f.validate(t, "alice", "hotp", id, "", hotpCode(s.counter)), s.want, s.reason)
		}
		expect(t, "malformed", f.validate(t, "alice", "hotp", id, "", "12345"), provider.StatusFailed, "malformed")
		// Wrong codes counted (10, 5, 30, malformed), the replay did not; the successes
		// in between reset the count.
		if fac, _ := st.GetFactor(context.Background(), id); fac.Failures != 1 || fac.Counter != 20 {
			t.Errorf("factor: failures %d counter %d", fac.Failures, fac.Counter)
		}
	})
}

func TestHOTPLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("lockout.maxFailures", 3) })
		id := f.enrollHOTP(t, "alice", 0)
		for range 3 {
			expect(t, "wrong", f.validate(t, "alice", "hotp", id, "", "000000"), provider.StatusFailed, "wrong code")
		}
		expect(t, "locked", f.validate(t, "alice", "hotp", id, "", hotpCode(0)), provider.StatusFailed, "locked until")
		f.clock.Advance(15 * time.Minute)
		expect(t, "unlocked", f.validate(t, "alice", "hotp", id, "", hotpCode(0)), provider.StatusSuccess, "")
	})
}

// Of fifty concurrent validations of one code, exactly one succeeds.
func TestHOTPConcurrentReplay(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollHOTP(t, "alice", 0)
		code := hotpCode(3)
		var wg sync.WaitGroup
		var successes atomic.Int32
		for range 50 {
			wg.Go(func() {
				out, err := f.engine.Validate(context.Background(), provider.Request{Capability: "hotp", ID: id, Username: "alice", Passvalue: code})
				if err != nil {
					t.Error(err)
				}
				if out.Status == provider.StatusSuccess {
					successes.Add(1)
				} else if out.Reason != "replayed code" {
					t.Errorf("%s %q", out.Status, out.Reason)
				}
			})
		}
		wg.Wait()
		if n := successes.Load(); n != 1 {
			t.Fatalf("%d successes, want exactly 1", n)
		}
	})
}

func TestHOTPResync(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ra := &testdb.RefusingAudits{Store: st}
		f := newEngineFixture(t, ra, func(c *engineConfig) {
			c.set("hotp", map[string]any{"window": 10, "resyncWindow": 1000})
			c.set("lockout.maxFailures", 2)
		})
		ctx := context.Background()
		id := f.enrollHOTP(t, "alice", 0)
		// The token was pressed 500 times away from emfa: its codes are out of the window,
		// and two attempts lock the factor.
		f.validate(t, "alice", "hotp", id, "", hotpCode(500))
		expect(t, "out of the window", f.validate(t, "alice", "hotp", id, "", hotpCode(501)), provider.StatusFailed, "locked")

		if _, err := f.engine.ResyncHOTP(ctx, id, hotpCode(500), hotpCode(502), nil); !errors.Is(err, builtin.ErrNotSynchronised) {
			t.Errorf("codes not consecutive: %v", err)
		}
		if _, err := f.engine.ResyncHOTP(ctx, id, hotpCode(1000), hotpCode(1001), nil); !errors.Is(err, builtin.ErrNotSynchronised) {
			t.Errorf("beyond the resync window (0-999 after -1): %v", err)
		}
		if _, err := f.engine.ResyncHOTP(ctx, id, "12345", "123456", nil); err == nil || !strings.Contains(err.Error(), "6 digits") {
			t.Errorf("malformed: %v", err)
		}
		// The new counter and the record of the change are one commit: with the record
		// refused, the counter stays, and the same codes then resynchronise the token.
		record := func() store.AuditEvent {
			return store.AuditEvent{Time: f.clock.Now(), Resource: "admin.factors.resync", FactorID: id, Outcome: "SUCCESS"}
		}
		ra.Refuse.Store(true)
		if _, err := f.engine.ResyncHOTP(ctx, id, hotpCode(500), hotpCode(501), record); !errors.Is(err, testdb.ErrAuditRefused) {
			t.Fatalf("resync with its record refused: %v", err)
		}
		ra.Refuse.Store(false)
		next, err := f.engine.ResyncHOTP(ctx, id, hotpCode(500), hotpCode(501), record)
		if err != nil || next != 502 {
			t.Fatalf("resync: %d %v", next, err)
		}
		if evs, err := st.ListAudit(ctx, store.AuditFilter{Limit: 100}); err != nil || len(slices.DeleteFunc(evs, func(ev store.AuditEvent) bool { return ev.Resource != "admin.factors.resync" })) != 1 {
			t.Errorf("resync records: %v, %v; want one", evs, err)
		}
		// Resynchronised and unlocked; the two codes used are spent.
		expect(t, "second resync code", f.validate(t, "alice", "hotp", id, "", hotpCode(501)), provider.StatusFailed, "replayed")
		expect(t, "next code", f.validate(t, "alice", "hotp", id, "", hotpCode(502)), provider.StatusSuccess, "")
		if _, err := f.engine.ResyncHOTP(ctx, id, hotpCode(500), hotpCode(501), nil); !errors.Is(err, builtin.ErrNotSynchronised) {
			t.Errorf("resync backwards: %v", err)
		}

		sms := f.enrollSMS(t, "alice", "+15551230123")
		if _, err := f.engine.ResyncHOTP(ctx, sms, "123456", "123456", nil); err == nil || !strings.Contains(err.Error(), "not hotp") {
			t.Errorf("resync of an sms factor: %v", err)
		}
		if _, err := f.engine.ResyncHOTP(ctx, "nope", "123456", "123456", nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown factor: %v", err)
		}
	})
}

func TestEnrollHOTP(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("hotp", map[string]any{"algorithm": "sha256", "digits": 8})
		})
		ctx := context.Background()
		enrolled := f.enroll(t, "hotp", "alice", "counter", "5", "name", "YubiKey")
		fac := enrolled.Factor
		uri, secret := enrolled.Output["otpauthURI"].(string), enrolled.Output["secret"].(string)
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "otpauth" || u.Host != "hotp" || u.Path != "/emfa:alice" {
			t.Fatalf("uri %q: %v", uri, err)
		}
		q := u.Query()
		if q.Get("counter") != "5" || q.Get("digits") != "8" || q.Get("algorithm") != "SHA256" || q.Get("issuer") != "emfa" || q.Get("secret") != secret ||
			enrolled.Output["counter"] != int64(5) {
			t.Errorf("uri query %v, output %v", q, enrolled.Output)
		}
		seed, err := builtin.DecodeSecret(secret)
		if err != nil || len(seed) != 32 {
			t.Fatalf("seed: %d bytes %v", len(seed), err)
		}
		stored, _ := st.GetFactor(ctx, fac.ID)
		if bytes.Contains(stored.Secret, seed) || stored.Counter != 4 || stored.Label != "YubiKey" || stored.Type != "hotp" {
			t.Errorf("stored factor %+v", stored)
		}
		// The first code accepted is the one for counter 5.
		expect(t, "counter 4", f.validate(t, "alice", "hotp", fac.ID, "", builtin.HOTP(builtin.SHA256, seed, 4, 8)), provider.StatusFailed, "")
		expect(t, "counter 5", f.validate(t, "alice", "hotp", fac.ID, "", builtin.HOTP(builtin.SHA256, seed, 5, 8)), provider.StatusSuccess, "")

		for _, bad := range [][]string{{"digits", "7"}, {"secret", builtin.EncodeSecret([]byte("short"))}, {"counter", "-1"}, {"algorithm", "MD5"}, {"counter", "x"}} {
			if _, err := f.engine.Enroll(ctx, enrollment("hotp", "alice", bad...)); err == nil {
				t.Errorf("%v accepted", bad)
			}
		}
		if _, err := f.engine.Enroll(ctx, enrollment("hotp", "zed")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		list, _ := f.engine.Enrollments(ctx, "alice")
		if len(list) != 1 || list[0].Capability != "hotp" || list[0].Attributes["authExecutionFlow"] != "validate" {
			t.Errorf("enrollments %+v", list)
		}
		expect(t, "initiate", f.initiate(t, "alice", "hotp", fac.ID), provider.StatusFailed, "no initiate step")
	})
}
