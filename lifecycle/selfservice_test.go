package lifecycle_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// staleLinks is a store whose GetLink shows every link unspent: the moment between a
// Confirm's look at its link and its commit, when another browser's confirmation wins.
type staleLinks struct {
	store.Store
	store.SelfService
}

func (s staleLinks) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s staleLinks) GetLink(ctx context.Context, hash string) (store.SelfServiceLink, error) {
	l, err := s.SelfService.GetLink(ctx, hash)
	l.SpentAt = time.Time{}
	return l, err
}

// racedEnrollments is staleLinks whose ListFactors shows none: two browsers enrolling a
// type at once, each listing the user's factors before the other stored its own, so
// neither replaces the other's (SelfService.Enroll).
type racedEnrollments struct{ staleLinks }

func (racedEnrollments) ListFactors(context.Context, string) ([]store.Factor, error) { return nil, nil }

// The first code confirmed on a link, the factor's activation and the link spent are one
// commit: a confirmation that loses the race to another browser changes nothing, not
// even the use of its code, and says the link is spent.
func TestConfirmSpendsTheLinkInItsCommit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, racedEnrollments{staleLinks{st, st.(store.SelfService)}})
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		token := linkToken(t, ss)
		type browser struct {
			sess lifecycle.Session
			id   string
			code string
		}
		var bs [2]browser
		for i := range bs {
			sess, en := enrollVia(t, ss, token, "totp")
			bs[i] = browser{sess, en.Factor.ID, codeOf(t, en, clk.Now())}
		}
		if _, err := ss.Confirm(ctx, &bs[0].sess, bs[0].code); err != nil {
			t.Fatalf("first confirmation: %v", err)
		}
		if _, err := ss.Confirm(ctx, &bs[1].sess, bs[1].code); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Fatalf("second confirmation: %v, want the link spent", err)
		}
		f, err := st.GetFactor(ctx, bs[1].id)
		if err != nil || f.State != store.FactorPending || f.Failures != 0 {
			t.Fatalf("the loser's factor: %+v, %v; want pending, nothing counted", f, err)
		}
		var got []string
		for _, action := range []string{"admin.factors.activate", "admin.selfservice.confirm"} {
			for _, ev := range auditOf(t, m, action).Events {
				got = append(got, ev.Action+" "+ev.Outcome+" "+ev.FactorID)
			}
		}
		want := []string{"admin.factors.activate SUCCESS " + bs[0].id, "admin.selfservice.confirm FAILED " + bs[1].id}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// A push device enrolled with a link completes its enrollment by registering: the
// registration spends the link in its commit, and is refused when another enrollment
// spent it first (the code stays unused, the device pending).
func TestPushRegistrationSpendsTheLink(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		register := func(code string) (string, error) {
			return devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256})
		}
		pushVia := func(token string) string {
			t.Helper()
			_, en := enrollVia(t, ss, token, "push")
			return en.Output["activationCode"].(string)
		}
		issue := func() string {
			t.Helper()
			clk.Advance(2 * time.Minute) // past the one-link-a-minute limit
			return linkToken(t, ss)
		}

		// Registered while no page looks: the link is spent all the same.
		token := issue()
		code := pushVia(token)
		if _, err := register(code); err != nil {
			t.Fatal(err)
		}
		if _, err := ss.OpenLink(ctx, token); !errors.Is(err, lifecycle.ErrLinkSpent) {
			t.Fatalf("the link after the registration: %v, want spent", err)
		}

		// Another browser's enrollment spent the link first: the device is refused.
		token = issue()
		code = pushVia(token)
		other, en := enrollVia(t, ss, token, "totp")
		if _, err := ss.Confirm(ctx, &other, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		id, err := register(code)
		if !errors.Is(err, provider.ErrActivation) || !strings.Contains(err.Error(), "link") {
			t.Fatalf("registration after the link was spent: %q %v", id, err)
		}
		fs, _ := m.ListFactors(ctx, "alice")
		var states []string
		for _, f := range fs {
			states = append(states, f.Type+" "+f.State)
		}
		if want := "push active,push pending_activation,totp active"; strings.Join(slices.Sorted(slices.Values(states)), ",") != want {
			t.Errorf("factors %v, want %s", states, want)
		}
	})
}

// selfService is the page's rules over m, for the types given.
func selfService(t *testing.T, m *lifecycle.Manager, types ...string) *lifecycle.SelfService {
	t.Helper()
	ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: types, LinkLifetime: time.Hour,
		SessionIdle: time.Hour, PublicURL: "https://mfa.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// linkToken issues alice a link, returned to the caller, and gives its token.
func linkToken(t *testing.T, ss *lifecycle.SelfService) string {
	t.Helper()
	link, err := ss.IssueLink(context.Background(), "test", "alice", false)
	if err != nil {
		t.Fatal(err)
	}
	return link.URL[strings.LastIndex(link.URL, "/")+1:]
}

// enrollVia opens the link token in a new session and enrolls typ there.
func enrollVia(t *testing.T, ss *lifecycle.SelfService, token, typ string) (lifecycle.Session, lifecycle.Enrolled) {
	t.Helper()
	ctx := context.Background()
	sess, err := ss.OpenLink(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	en, err := ss.Enroll(ctx, &sess, typ, "")
	if err != nil {
		t.Fatal(err)
	}
	return sess, en
}

// pushDevice enrolls a push factor through the link token and registers a device for
// it, whose id it gives.
func pushDevice(t *testing.T, ss *lifecycle.SelfService, devices *builtin.Devices, token string) string {
	t.Helper()
	_, pen := enrollVia(t, ss, token, "push")
	key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
	pub, _ := builtin.EncodePublicKey(key)
	device, err := devices.Register(context.Background(), provider.DeviceRegistration{
		ActivationCode: pen.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256})
	if err != nil {
		t.Fatal(err)
	}
	return device
}

// codeOf is the code at now of a TOTP factor just enrolled.
func codeOf(t *testing.T, en lifecycle.Enrolled, now time.Time) string {
	t.Helper()
	key, err := otp.NewKeyFromURL(en.Output["otpauthURI"].(string))
	if err != nil {
		t.Fatal(err)
	}
	code, err := totp.GenerateCodeCustom(key.Secret(), now, totp.ValidateOpts{
		Period: uint(key.Period()), Digits: key.Digits(), Algorithm: key.Algorithm()})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// brokenSessions is a store that cannot keep a session while broken is set.
type brokenSessions struct {
	store.Store
	store.SelfService
	broken *bool
}

func (s brokenSessions) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return s.SelfService.SpendLink(ctx, hash, now)
}

func (s brokenSessions) PutSession(ctx context.Context, ss store.SelfServiceSession, audit ...store.AuditEvent) error {
	if *s.broken {
		return errors.New("disk full")
	}
	return s.SelfService.PutSession(ctx, ss, audit...)
}

// A link opened or a sign-in made is recorded SUCCESS only once its session exists: a
// session the store could not keep is an error, and no success in the trail.
func TestSessionRecordedOnceItExists(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		broken := false
		m, clk := newManager(t, brokenSessions{st, st.(store.SelfService), &broken})
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		token := linkToken(t, ss)
		successes := func(action string) int {
			n := 0
			for _, e := range auditOf(t, m, action).Events {
				if e.Outcome == "SUCCESS" {
					n++
				}
			}
			return n
		}

		broken = true
		if _, err := ss.OpenLink(ctx, token); err == nil {
			t.Fatal("OpenLink without a session: no error")
		}
		if n := successes("admin.selfservice.open"); n != 0 {
			t.Errorf("%d admin.selfservice.open SUCCESS for a link whose session failed", n)
		}
		broken = false
		sess, en := enrollVia(t, ss, token, "totp")
		if _, err := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		if n := successes("admin.selfservice.open"); n != 1 {
			t.Errorf("%d admin.selfservice.open SUCCESS, want 1", n)
		}

		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute) // a code the enrollment did not use
		broken = true
		if _, err := ss.FinishSignIn(ctx, &anon, codeOf(t, en, clk.Now())); err == nil {
			t.Fatal("FinishSignIn without a session: no error")
		}
		if n := successes("admin.selfservice.signin"); n != 0 {
			t.Errorf("%d admin.selfservice.signin SUCCESS for a sign-in whose session failed", n)
		}
	})
}

// TestEnrollAgainKeepsARegisteredPushDevice: a push device's registration completes its
// enrollment whether or not the page saw it; a user who then adds another factor without
// pressing "continue" keeps the device (only a factor still pending is discarded).
func TestEnrollAgainKeepsARegisteredPushDevice(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "push")
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		// alice gets a TOTP through a link, then signs in with it.
		user, _ := signedIn(t, ss, clk)
		// She adds a push device; the phone registers.
		pen, err := ss.Enroll(ctx, &user, "push", "")
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: pen.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
			t.Fatal(err)
		}
		if f, err := m.GetFactor(ctx, "alice", pen.Factor.ID); err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("push after registration: %+v %v", f, err)
		}
		// Without pressing continue, she adds something else (the next request finds the session by its cookie).
		user, err = ss.Session(ctx, user.Cookie)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.Enroll(ctx, &user, "totp", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GetFactor(ctx, "alice", pen.Factor.ID); err != nil {
			t.Fatalf("the registered, active push device is gone: %v", err)
		}
	})
}

// heldDeletes holds a change deleting factors until a second one arrives (or a second
// passes): two removals at once, each having counted the factors before either deletes.
type heldDeletes struct {
	store.Store
	store.SelfService
	arrived chan struct{}
}

func (h *heldDeletes) SpendLink(ctx context.Context, hash string, now time.Time) error {
	return h.SelfService.SpendLink(ctx, hash, now)
}

func (h *heldDeletes) ApplyUserChanges(ctx context.Context, cs []store.UserChange) []error {
	if len(cs) == 1 && len(cs[0].DeleteFactors) > 0 {
		h.arrived <- struct{}{}
		deadline := time.After(time.Second)
		for len(h.arrived) < 2 {
			select {
			case <-deadline:
				return h.Store.ApplyUserChanges(ctx, cs)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return h.Store.ApplyUserChanges(ctx, cs)
}

// TestRemoveTwoAtOnceKeepsTheLast: with allowRemoveLast false, a user with two active
// factors who removes both at once (two tabs) keeps one: the count and the delete hold
// together, and the second removal counts again and is refused.
func TestRemoveTwoAtOnceKeepsTheLast(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, inner store.Store) {
		ctx := context.Background()
		st := &heldDeletes{Store: inner, SelfService: inner.(store.SelfService), arrived: make(chan struct{}, 2)}
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp")
		token := linkToken(t, ss)
		sess, en := enrollVia(t, ss, token, "totp")
		if _, err := ss.Confirm(ctx, &sess, codeOf(t, en, clk.Now())); err != nil {
			t.Fatal(err)
		}
		second, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		anon, err := ss.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := ss.StartSignIn(ctx, &anon, "alice", lifecycle.MethodApp); err != nil {
			t.Fatal(err)
		}
		user, err := ss.FinishSignIn(ctx, &anon, codeOf(t, en, clk.Now()))
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{en.Factor.ID, second.Factor.ID}
		errs := make([]error, 2)
		var wg gosync.WaitGroup
		for i, id := range ids {
			wg.Go(func() { errs[i] = ss.Remove(ctx, user, id) })
		}
		wg.Wait()
		fs, _ := m.ListFactors(ctx, "alice")
		active := 0
		for _, f := range fs {
			if f.State == lifecycle.FactorActive {
				active++
			}
		}
		if active != 1 || (errs[0] == nil) == (errs[1] == nil) {
			t.Errorf("two removals at once: %v; %d active factor(s) left, want 1", errs, active)
		}
	})
}

// TestPushSignInTellsNoOneWhoExists: a push sign-in for a user with a device and one for
// nobody look the same: with number matching both show a number, and both time out when
// the challenge's lifetime has passed.
func TestPushSignInTellsNoOneWhoExists(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
		keys, _ := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now, Capabilities: []string{"totp", "push"},
			Config: map[string]any{"push": map[string]any{"numberMatching": true, "lifetime": "2m", "serverURL": "https://mfa.example.com/"}}})
		if err != nil {
			t.Fatal(err)
		}
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{engine}, Now: clk.Now,
			Capabilities: map[string][]string{"acme": {"totp", "push"}}})
		if err != nil {
			t.Fatal(err)
		}
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "push"})
		if err != nil {
			t.Fatal(err)
		}
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: en.Output["activationCode"].(string), PublicKey: pub, Alg: builtin.AlgES256}); err != nil {
			t.Fatal(err)
		}
		ss := selfService(t, m, "totp", "push")
		start := func(user string) lifecycle.Session {
			sess, err := ss.NewSession(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.StartSignIn(ctx, &sess, user, lifecycle.MethodPush); err != nil {
				t.Fatal(err)
			}
			return sess
		}
		known, unknown := start("alice"), start("nobody")
		if known.State.Tx == "" || known.State.Number == 0 || unknown.State.Number == 0 {
			t.Fatalf("numbers shown: alice %d (tx %q), nobody %d", known.State.Number, known.State.Tx, unknown.State.Number)
		}
		for _, s := range []lifecycle.Session{known, unknown} {
			if got, err := ss.PushSignInStatus(ctx, s); err != nil || got != lifecycle.SignInPending {
				t.Errorf("%s at once: %s %v", s.State.User, got, err)
			}
		}
		clk.Advance(3 * time.Minute) // past the challenge's lifetime
		for _, s := range []lifecycle.Session{known, unknown} {
			if got, err := ss.PushSignInStatus(ctx, s); err != nil || got != lifecycle.SignInTimeout {
				t.Errorf("%s after the lifetime: %s %v, want timeout", s.State.User, got, err)
			}
		}
	})
}

// TestReopenedLinkReplacesItsPendingFactor: the link opened again in another browser
// (the first one closed, or on another device) and a factor of the same type started
// there replaces the one the first browser started and never confirmed, rather than
// leaving it pending until the sweep a week later, where it also stood in the way (the
// same phone number again was "already a factor"). Only a pending factor started on the
// page goes: an active one, and one an admin enrolled, stay.
func TestReopenedLinkReplacesItsPendingFactor(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		ss := selfService(t, m, "totp", "smsotp")
		token := linkToken(t, ss)
		active := enrollTOTP(t, m)
		byAdmin, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationPasscode})
		if err != nil {
			t.Fatal(err)
		}
		const phone = "+15551230123"
		smsVia := func() lifecycle.Enrolled {
			t.Helper()
			sess, err := ss.OpenLink(ctx, token)
			if err != nil {
				t.Fatal(err)
			}
			en, err := ss.Enroll(ctx, &sess, "smsotp", phone)
			if err != nil {
				t.Fatalf("enroll %s: %v", phone, err)
			}
			return en
		}
		first, en1 := enrollVia(t, ss, token, "totp")
		sms1 := smsVia()
		second, en2 := enrollVia(t, ss, token, "totp")
		sms2 := smsVia()

		fs, err := m.ListFactors(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.ID)
		}
		want := []string{active.Factor.ID, byAdmin.Factor.ID, en2.Factor.ID, sms2.Factor.ID}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("factors %v, want %v (not the first browser's %s and %s)", got, want, en1.Factor.ID, sms1.Factor.ID)
		}
		// The first browser's code now says its set-up ended; the second's completes.
		var le *lifecycle.Error
		if _, err := ss.Confirm(ctx, &first, codeOf(t, en1, clk.Now())); !errors.As(err, &le) || le.Code != "enrollment_ended" {
			t.Errorf("the replaced enrollment's code: %v, want enrollment_ended", err)
		}
		if _, err := ss.Confirm(ctx, &second, codeOf(t, en2, clk.Now())); err != nil {
			t.Errorf("the newer enrollment's code: %v", err)
		}
	})
}
