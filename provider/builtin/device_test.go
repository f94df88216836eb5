package builtin_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
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

// pushFixture is an engine with push, the device service, a fake clock and two users.
type pushFixture struct {
	engine   *builtin.Engine
	devices  *builtin.Devices
	store    store.Store
	clock    *clock
	logs     *lockedLog
	notified *notifierRecorder
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// notifierRecorder keeps the notifications and fails when told to.
type notifierRecorder struct {
	mu   sync.Mutex
	got  []builtin.Notification
	fail error
}

func (n *notifierRecorder) Notify(_ context.Context, msg builtin.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, msg)
	return n.fail
}

func (n *notifierRecorder) last() builtin.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.got) == 0 {
		return builtin.Notification{}
	}
	return n.got[len(n.got)-1]
}

func newPushFixture(t *testing.T, st store.Store, numberMatching bool) *pushFixture {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f := &pushFixture{store: st, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		logs: &lockedLog{}, notified: &notifierRecorder{}}
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.engine, err = builtin.New(builtin.Options{Store: st, Keyring: keys, Now: f.clock.Now, Log: log,
		Capabilities: []string{"push"}, Config: map[string]any{
			"push": map[string]any{"numberMatching": numberMatching, "serverURL": "https://emfa.example.com/"}}})
	if err != nil {
		t.Fatal(err)
	}
	builtin.SetNotifier(f.engine, f.notified)
	f.devices, err = builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: f.clock.Now, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob"} {
		if err := st.CreateUser(context.Background(), store.User{ID: "u-" + name, Name: name, CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// newDevicePublicKey is a new phone's ES256 public key, as it registers it.
func newDevicePublicKey(t *testing.T) string {
	t.Helper()
	key, err := builtin.GenerateDeviceKey(builtin.AlgES256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := builtin.EncodePublicKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// enrolledPush is a push enrollment's output, as a test reads it.
type enrolledPush struct {
	Factor                                           store.Factor
	ActivationCode, RegistrationURI, RegistrationURL string
	ExpiresAt                                        time.Time
}

func (f *pushFixture) enroll(t *testing.T, user string) enrolledPush {
	t.Helper()
	e, err := f.engine.Enroll(context.Background(), builtin.Enrollment{Type: builtin.TypePush, User: user})
	if err != nil {
		t.Fatal(err)
	}
	out := enrolledPush{Factor: e.Factor}
	out.ActivationCode, _ = e.Output["activationCode"].(string)
	out.RegistrationURI, _ = e.Output["registrationURI"].(string)
	out.RegistrationURL, _ = e.Output["registrationURL"].(string)
	expires, _ := e.Output["expiresAt"].(string)
	if out.ExpiresAt, err = time.Parse(time.RFC3339, expires); err != nil {
		t.Fatalf("expiresAt %q: %v", expires, err)
	}
	return out
}

// device is a registered device as a test plays it.
type device struct {
	id  string
	key crypto.Signer
}

func (f *pushFixture) register(t *testing.T, user, alg string) device {
	t.Helper()
	key, err := builtin.GenerateDeviceKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := builtin.EncodePublicKey(key)
	id, err := f.devices.Register(context.Background(), provider.DeviceRegistration{
		ActivationCode: f.enroll(t, user).ActivationCode, PublicKey: pub, Alg: alg, Name: user + "'s phone"})
	if err != nil {
		t.Fatal(err)
	}
	return device{id: id, key: key}
}

// signed builds a request as the device signs it, now.
func (f *pushFixture) signed(t *testing.T, d device, method, path string, body []byte) provider.SignedDeviceRequest {
	t.Helper()
	ts := strconv.FormatInt(f.clock.Now().Unix(), 10)
	nonce := randomNonce()
	sum := sha256.Sum256(body)
	sig, err := builtin.SignDevice(d.key, builtin.SigningString(d.id, method, path, ts, nonce, sum))
	if err != nil {
		t.Fatal(err)
	}
	return provider.SignedDeviceRequest{DeviceID: d.id, Method: method, Path: path, Timestamp: ts, Nonce: nonce,
		Signature: sig, BodySHA256: sum}
}

func randomNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (f *pushFixture) initiate(t *testing.T, user, id string) provider.Outcome {
	t.Helper()
	out, err := f.engine.Initiate(context.Background(), provider.Request{Capability: "push", ID: id, Username: user})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *pushFixture) result(t *testing.T, user, id, txid string) provider.Status {
	t.Helper()
	out, err := f.engine.Result(context.Background(), provider.Request{Capability: "push", ID: id, Username: user, TransactionID: txid})
	if err != nil {
		t.Fatal(err)
	}
	return out.Status
}

func (f *pushFixture) answer(d device, challenge string, decision provider.Decision, number *int) (provider.Status, error) {
	return f.devices.Answer(context.Background(), d.id, challenge, decision, number)
}

// TestSigningString pins the canonical form the README documents: an app implements it
// from the text, so it must never drift.
func TestSigningString(t *testing.T) {
	got := builtin.SigningString("dev1", "post", "/v1/devices/challenges/abc", "1767225600", "n0nce-n0nce-n0nce", sha256.Sum256([]byte(`{"decision":"approve"}`)))
	want := "emfa-device-v1\ndev1\nPOST\n/v1/devices/challenges/abc\n1767225600\nn0nce-n0nce-n0nce\n" +
		"2ddd116c830744f5435c7391895c584921c7e83c19313ba43a30582a5e94e4ea"
	if got != want {
		t.Errorf("signing string:\n%q\nwant\n%q", got, want)
	}
	empty := builtin.SigningString("d", "GET", "/p", "1", "n", sha256.Sum256(nil))
	if !strings.HasSuffix(empty, "\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") {
		t.Errorf("a GET signs the SHA-256 of the empty body: %q", empty)
	}
}

func TestDeviceAuthentication(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		for _, alg := range []string{builtin.AlgES256, builtin.AlgEd25519} {
			t.Run(alg, func(t *testing.T) {
				d := f.register(t, "alice", alg)
				other, _ := builtin.GenerateDeviceKey(alg)
				body := []byte(`{"decision":"approve"}`)
				path := "/v1/devices/challenges/x"
				if err := f.devices.Authenticate(ctx, f.signed(t, d, "POST", path, body)); err != nil {
					t.Fatalf("good %s request refused: %v", alg, err)
				}
				if err := f.devices.Authenticate(ctx, f.signed(t, d, "GET", "/v1/devices/challenges", nil)); err != nil {
					t.Fatalf("good %s GET refused: %v", alg, err)
				}
				cases := []struct {
					name, why string
					mutate    func(r *provider.SignedDeviceRequest)
				}{
					{"tampered body", "bad signature", func(r *provider.SignedDeviceRequest) { r.BodySHA256 = sha256.Sum256([]byte(`{"decision":"deny"}`)) }},
					{"other path", "bad signature", func(r *provider.SignedDeviceRequest) { r.Path = "/v1/devices/challenges/y" }},
					{"other method", "bad signature", func(r *provider.SignedDeviceRequest) { r.Method = "PUT" }},
					{"wrong key", "bad signature", func(r *provider.SignedDeviceRequest) {
						sig, _ := builtin.SignDevice(other, builtin.SigningString(r.DeviceID, r.Method, r.Path, r.Timestamp, r.Nonce, r.BodySHA256))
						r.Signature = sig
					}},
					{"timestamp changed after signing", "bad signature", func(r *provider.SignedDeviceRequest) { r.Timestamp = strconv.FormatInt(f.clock.Now().Unix()+1, 10) }},
					{"nonce changed after signing", "bad signature", func(r *provider.SignedDeviceRequest) { r.Nonce = randomNonce() }},
					{"garbage signature", "not base64", func(r *provider.SignedDeviceRequest) { r.Signature = "not base64!" }},
					{"empty signature", "missing", func(r *provider.SignedDeviceRequest) { r.Signature = "" }},
					{"unknown device", "unknown device", func(r *provider.SignedDeviceRequest) { r.DeviceID = "nope" }},
					{"malformed nonce", "malformed nonce", func(r *provider.SignedDeviceRequest) { r.Nonce = "short" }},
					{"malformed timestamp", "malformed timestamp", func(r *provider.SignedDeviceRequest) { r.Timestamp = "yesterday" }},
				}
				for _, c := range cases {
					r := f.signed(t, d, "POST", path, body)
					c.mutate(&r)
					if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) || !strings.Contains(err.Error(), c.why) {
						t.Errorf("%s: %v, want ErrDeviceAuth (%s)", c.name, err, c.why)
					}
				}
				// Stale and future timestamps, correctly signed.
				for _, off := range []time.Duration{-builtin.ClockSkew - time.Second, builtin.ClockSkew + time.Second} {
					f.clock.Advance(-off) // sign at now+off
					r := f.signed(t, d, "POST", path, body)
					f.clock.Advance(off)
					if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) || !strings.Contains(err.Error(), "from emfa's clock") {
						t.Errorf("timestamp %s away: %v, want refused", -off, err)
					}
				}
				// At the edge of the window it still passes.
				f.clock.Advance(-builtin.ClockSkew + time.Second)
				r := f.signed(t, d, "POST", path, body)
				f.clock.Advance(builtin.ClockSkew - time.Second)
				if err := f.devices.Authenticate(ctx, r); err != nil {
					t.Errorf("timestamp %s old: %v", builtin.ClockSkew-time.Second, err)
				}
				// A replayed nonce (the very same request) is refused.
				r = f.signed(t, d, "POST", path, body)
				if err := f.devices.Authenticate(ctx, r); err != nil {
					t.Fatal(err)
				}
				if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) || !strings.Contains(err.Error(), "replayed nonce") {
					t.Errorf("replayed nonce: %v", err)
				}
				// A disabled device is no device.
				if err := st.SetFactorState(ctx, d.id, store.FactorDisabled, f.clock.Now()); err != nil {
					t.Fatal(err)
				}
				if err := f.devices.Authenticate(ctx, f.signed(t, d, "POST", path, body)); !errors.Is(err, provider.ErrDeviceAuth) {
					t.Errorf("disabled device: %v", err)
				}
			})
		}
		t.Run("unregistered device", func(t *testing.T) {
			pending := f.enroll(t, "alice")
			key, _ := builtin.GenerateDeviceKey(builtin.AlgEd25519)
			r := f.signed(t, device{id: pending.Factor.ID, key: key}, "GET", "/v1/devices/challenges", nil)
			if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) {
				t.Errorf("pending factor authenticated: %v", err)
			}
			// Enabled by hand, it is still no registered device.
			if err := st.SetFactorState(ctx, pending.Factor.ID, store.FactorActive, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
			r = f.signed(t, device{id: pending.Factor.ID, key: key}, "GET", "/v1/devices/challenges", nil)
			if err := f.devices.Authenticate(ctx, r); !errors.Is(err, provider.ErrDeviceAuth) {
				t.Errorf("keyless factor authenticated: %v", err)
			}
			if out := f.initiate(t, "alice", pending.Factor.ID); out.Status != provider.StatusFailed {
				t.Errorf("initiate on a keyless device: %+v", out)
			}
		})
		t.Run("concurrent nonce", func(t *testing.T) {
			d := f.register(t, "bob", builtin.AlgEd25519)
			r := f.signed(t, d, "GET", "/v1/devices/challenges", nil)
			var ok atomic.Int32
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if f.devices.Authenticate(ctx, r) == nil {
						ok.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 1 {
				t.Errorf("%d of 8 concurrent uses of one nonce passed, want 1", ok.Load())
			}
		})
	})
}

func TestActivation(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newPushFixture(t, st, false)
		ctx := context.Background()
		key, _ := builtin.GenerateDeviceKey(builtin.AlgES256)
		pub, _ := builtin.EncodePublicKey(key)
		regKey := func(code, pub string) (string, error) {
			return f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: builtin.AlgES256, Name: "Pixel 8"})
		}
		reg := func(code string) (string, error) { return regKey(code, pub) }
		// another phone's key: the same key sent again is the same registration
		// (TestRegistrationSentAgain)
		otherKey := func() string { return newDevicePublicKey(t) }

		t.Run("enrollment", func(t *testing.T) {
			e := f.enroll(t, "alice")
			if e.Factor.State != store.FactorPending || e.Factor.Type != "push" || len(e.ActivationCode) < 26 {
				t.Errorf("enrolled: %+v", e)
			}
			if e.RegistrationURI != "emfa://register?code="+e.ActivationCode+"&server=https%3A%2F%2Femfa.example.com" ||
				e.RegistrationURL != "https://emfa.example.com/v1/devices/register#code="+e.ActivationCode {
				t.Errorf("URIs: %s %s", e.RegistrationURI, e.RegistrationURL)
			}
			if !e.ExpiresAt.Equal(f.clock.Now().Add(10 * time.Minute)) {
				t.Errorf("expires %s", e.ExpiresAt)
			}
			// Not offered before a device registered; the code is kept only as a hash.
			if list, _ := f.engine.Enrollments(ctx, "alice"); len(list) != 0 {
				t.Errorf("pending device offered: %+v", list)
			}
			sum := sha256.Sum256([]byte(e.ActivationCode))
			tx, err := st.GetTransaction(ctx, fmt.Sprintf("push-activation:%x", sum))
			if err != nil || tx.FactorID != e.Factor.ID || bytes.Contains(tx.Data, []byte(e.ActivationCode)) {
				t.Errorf("activation transaction: %+v %v", tx, err)
			}
		})

		t.Run("single use", func(t *testing.T) {
			e := f.enroll(t, "alice")
			// A malformed request does not spend the code.
			if _, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: "AAAA", Alg: "ES256"}); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("bad key: %v", err)
			}
			if _, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: "Ed25519"}); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("key of another alg: %v", err)
			}
			if _, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: "RS256"}); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("unknown alg: %v", err)
			}
			if _, err := f.devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: "ES256", Name: "a\nb"}); !errors.Is(err, provider.ErrInvalidDeviceRequest) {
				t.Errorf("name with a newline: %v", err)
			}
			id, err := reg(strings.ToUpper(e.ActivationCode)) // typed by hand, in capitals
			if err != nil || id != e.Factor.ID {
				t.Fatalf("register: %q %v", id, err)
			}
			if _, err := regKey(e.ActivationCode, otherKey()); !errors.Is(err, provider.ErrActivation) {
				t.Errorf("second use: %v", err)
			}
			got, _ := st.GetFactor(ctx, id)
			if got.State != store.FactorActive || got.Params["alg"] != "ES256" || got.Params["publicKey"] != pub || got.Label != "Pixel 8" {
				t.Errorf("registered factor: %+v", got)
			}
			list, _ := f.engine.Enrollments(ctx, "alice")
			if len(list) != 1 || list[0].ID != id || list[0].Capability != "push" ||
				list[0].Attributes["authExecutionFlow"] != "init_then_poll" || list[0].Attributes["deviceName"] != "Pixel 8" {
				t.Errorf("enrollments: %+v", list)
			}
			// The registration is recorded once, the refused second use as FAILED (a code
			// used again may have been copied).
			if evs := registrations(t, st, id); len(evs) != 2 || evs[1].Username != "alice" || evs[1].Outcome != "SUCCESS" ||
				evs[1].Capability != "push" || evs[1].Reason != "ES256" ||
				evs[0].Outcome != "FAILED" || evs[0].Reason != "activation code already used" {
				t.Errorf("registration records: %+v", evs)
			}
		})

		t.Run("recorded, or not at all", func(t *testing.T) {
			e := f.enroll(t, "alice")
			sw := &testdb.RefusingAudits{Store: st}
			devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: sw, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			sw.Refuse.Store(true)
			if _, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: builtin.AlgES256}); !errors.Is(err, testdb.ErrAuditRefused) {
				t.Fatalf("registration with its record refused: %v", err)
			}
			if got, _ := st.GetFactor(ctx, e.Factor.ID); got.State != store.FactorPending || got.Params["publicKey"] != "" {
				t.Fatalf("after the refused record the factor is %s with %v", got.State, got.Params)
			}
			// Nothing of it stayed: the code is not spent, and registers once recorded.
			sw.Refuse.Store(false)
			if id, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: builtin.AlgES256}); err != nil || id != e.Factor.ID {
				t.Fatalf("the same code once recorded: %q %v", id, err)
			}
			if evs := registrations(t, st, e.Factor.ID); len(evs) != 1 {
				t.Errorf("registration records: %+v", evs)
			}
		})

		t.Run("unknown and expired", func(t *testing.T) {
			if _, err := reg("nosuchcode"); !errors.Is(err, provider.ErrActivation) {
				t.Errorf("unknown code: %v", err)
			}
			e := f.enroll(t, "bob")
			f.clock.Advance(10 * time.Minute)
			if _, err := reg(e.ActivationCode); !errors.Is(err, provider.ErrActivation) {
				t.Errorf("expired code: %v", err)
			}
			if got, _ := st.GetFactor(ctx, e.Factor.ID); got.State != store.FactorPending {
				t.Errorf("factor after an expired code: %s", got.State)
			}
		})

		t.Run("concurrent", func(t *testing.T) {
			e := f.enroll(t, "bob")
			var won, refused atomic.Int32
			var wg sync.WaitGroup
			for range 16 {
				pub := otherKey()
				wg.Go(func() {
					_, err := regKey(e.ActivationCode, pub)
					switch {
					case err == nil:
						won.Add(1)
					case errors.Is(err, provider.ErrActivation):
						refused.Add(1)
					default:
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if won.Load() != 1 || refused.Load() != 15 {
				t.Errorf("%d registrations won and %d were refused, want 1 and 15", won.Load(), refused.Load())
			}
		})
	})
}

// registrations are the records of a device's registration as factor id.
func registrations(t *testing.T, st store.Store, id string) []store.AuditEvent {
	t.Helper()
	all, err := st.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(all, func(ev store.AuditEvent) bool { return ev.Resource != "device register" || ev.FactorID != id })
}

// busyWriter is a store whose writer is busy: a unit waits by before it runs, on the
// test's clock.
type busyWriter struct {
	store.Store
	clock *clock
	by    time.Duration
}

func (s busyWriter) Update(ctx context.Context, fn func(store.Writer) error) error {
	s.clock.Advance(s.by)
	return s.Store.Update(ctx, fn)
}

// TestDeadlinesHeldInTheUnit: an approval, or a registration, checked in time whose unit
// runs after the deadline (the store's writer busy meanwhile) is refused, and the
// challenge ends TIMEOUT: README, "TIMEOUT (nobody answered within lifetime)" and "the
// code registers one device, once, before expiresAt". Before, the deadline was checked
// only before the unit, and the approval committed SUCCESS past it.
func TestDeadlinesHeldInTheUnit(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		f := newPushFixture(t, st, false)
		busy, err := builtin.NewDevices(builtin.DevicesOptions{Store: busyWriter{st, f.clock, time.Second}, Now: f.clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		alice := f.register(t, "alice", builtin.AlgEd25519)
		challenge := f.initiate(t, "alice", alice.id).TransactionID
		tx, err := st.GetTransaction(ctx, "push:"+challenge)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.Advance(tx.ExpiresAt.Sub(f.clock.Now()) - 100*time.Millisecond)
		if got, err := busy.Answer(ctx, alice.id, challenge, provider.Approve, nil); !errors.Is(err, provider.ErrChallengeClosed) || got == provider.StatusSuccess {
			t.Errorf("an approval whose unit ran past the deadline: %s %v, want the challenge closed", got, err)
		}
		if got := f.result(t, "alice", alice.id, challenge); got != provider.StatusTimeout {
			t.Errorf("result: %s, want TIMEOUT", got)
		}

		e := f.enroll(t, "bob")
		f.clock.Advance(e.ExpiresAt.Sub(f.clock.Now()) - 100*time.Millisecond)
		key, _ := builtin.GenerateDeviceKey(builtin.AlgEd25519)
		pub, _ := builtin.EncodePublicKey(key)
		if id, err := busy.Register(ctx, provider.DeviceRegistration{ActivationCode: e.ActivationCode, PublicKey: pub, Alg: builtin.AlgEd25519}); !errors.Is(err, provider.ErrActivation) || !strings.Contains(err.Error(), "expired") {
			t.Errorf("a registration whose unit ran past the code's expiry: %q %v, want refused as expired", id, err)
		}
		if f, err := st.GetFactor(ctx, e.Factor.ID); err != nil || f.State != store.FactorPending {
			t.Errorf("bob's factor after the refused registration: %+v %v, want pending", f, err)
		}
	})
}
