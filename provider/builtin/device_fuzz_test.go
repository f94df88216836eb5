package builtin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// FuzzDeviceAuthenticate parses signed device requests (headers, signature, body hash)
// against a real registered device: every refusal wraps ErrDeviceAuth — never a fault or
// a panic — and only a request the device really signed is admitted.
func FuzzDeviceAuthenticate(f *testing.F) {
	ctx := context.Background()
	st := testdb.SQLite(f)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := func() time.Time { return now }
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk,
		Capabilities: []string{"push"}, Config: map[string]any{"push": map[string]any{}}})
	if err != nil {
		f.Fatal(err)
	}
	devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clk})
	if err != nil {
		f.Fatal(err)
	}
	if err := st.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: now}); err != nil {
		f.Fatal(err)
	}
	ids, signed := map[string]string{}, map[string]bool{}
	for _, alg := range []string{"ES256", "Ed25519"} {
		enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypePush, User: "alice"})
		if err != nil {
			f.Fatal(err)
		}
		code, _ := enrolled.Output["activationCode"].(string)
		key, err := builtin.GenerateDeviceKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		pub, _ := builtin.EncodePublicKey(key)
		id, err := devices.Register(ctx, provider.DeviceRegistration{ActivationCode: code, PublicKey: pub, Alg: alg})
		if err != nil {
			f.Fatal(err)
		}
		ids[alg] = id
		ts := strconv.FormatInt(now.Unix(), 10)
		sig, err := builtin.SignDevice(key, builtin.SigningString(id, "GET", "/v1/devices/challenges", ts, "nonce-"+alg+"-0123456789", sha256.Sum256(nil)))
		if err != nil {
			f.Fatal(err)
		}
		signed[sig] = true
		f.Add(true, alg == "ES256", "GET", "/v1/devices/challenges", ts, "nonce-"+alg+"-0123456789", sig, []byte(nil))
	}
	f.Add(false, true, "POST", "/v1/devices/challenges/x", "1772366400", "short", "!!", []byte(`{"decision":"approve"}`))
	f.Add(true, true, "GET", "/v1/devices/challenges", "-9223372036854775808", "nonce-nonce-nonce-1", "MEUCIQ==", []byte(nil))
	f.Add(false, false, "GET", "/", "+1772366400", "nonce-nonce-nonce-2", "AAAA", []byte{0})
	f.Fuzz(func(t *testing.T, known, es256 bool, method, path, ts, nonce, sig string, body []byte) {
		id := "dev-\xff" + path
		if known {
			id = ids[map[bool]string{true: "ES256", false: "Ed25519"}[es256]]
		}
		err := devices.Authenticate(ctx, provider.SignedDeviceRequest{DeviceID: id, Method: method, Path: path,
			Timestamp: ts, Nonce: nonce, Signature: sig, BodySHA256: sha256.Sum256(body)})
		if err != nil && !errors.Is(err, provider.ErrDeviceAuth) {
			t.Fatalf("a refusal that is a fault: %v", err)
		}
		if err == nil && !signed[sig] {
			t.Fatalf("admitted a request the device did not sign: %q %q %q %q %q", method, path, ts, nonce, sig)
		}
	})
}
