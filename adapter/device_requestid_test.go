package adapter

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// TestDeviceAuditCarriesRequestID: a phone's registration and its answer to a push
// challenge, through the device API, leave audit rows that carry the X-Request-ID of the
// request that wrote them, as the contract call that started the challenge does: an
// operator joins each row to the access log's line, and so to the address it came from.
func TestDeviceAuditCarriesRequestID(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		clock := func() time.Time { return now }
		keys, err := builtin.NewKeyring(bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatal(err)
		}
		engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clock, Capabilities: []string{"push"},
			Config: map[string]any{"push": map[string]any{"numberMatching": false, "serverURL": "https://emfa.example.com/"}}})
		if err != nil {
			t.Fatal(err)
		}
		devices, err := builtin.NewDevices(builtin.DevicesOptions{Store: st, Now: clock})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypePush, User: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, func(o *Options) {
			o.Providers = []*provider.Provider{{Name: "Built-in", CredentialPrefix: "emfa", Enabled: true,
				Capabilities: []string{"push"}, Engine: engine, Audit: st, Now: clock, Log: o.Log}}
			o.Devices = devices
		})

		key, err := builtin.GenerateDeviceKey("ES256")
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := builtin.EncodePublicKey(key)
		reg, _ := json.Marshal(map[string]string{"activationCode": enrolled.Output["activationCode"].(string), "publicKey": pub, "alg": "ES256"})
		code, body, hdr := h.do(t, "POST", "/v1/devices/register", string(reg), "X-Request-ID", "req-dev-register")
		if code != 201 || hdr.Get("X-Request-ID") != "req-dev-register" {
			t.Fatalf("register: %d %s (request id %q)", code, body, hdr.Get("X-Request-ID"))
		}
		var device struct{ DeviceID string }
		if err := json.Unmarshal([]byte(body), &device); err != nil || device.DeviceID != enrolled.Factor.ID {
			t.Fatalf("registered as %s, want %s (%v)", body, enrolled.Factor.ID, err)
		}

		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("verify:pw-secret"))
		code, body, _ = h.do(t, "POST", "/v1/providers/emfa/initiate",
			fmt.Sprintf(`{"capability":"emfa:push","id":%q,"attributes":{"username":"alice"}}`, device.DeviceID),
			"Authorization", basic, "X-Request-ID", "req-initiate")
		var started struct{ Status, TransactionID string }
		if err := json.Unmarshal([]byte(body), &started); code != 200 || err != nil || started.Status != "PENDING" || started.TransactionID == "" {
			t.Fatalf("initiate: %d %s", code, body)
		}

		path := "/v1/devices/challenges/" + started.TransactionID
		answer := `{"decision":"approve"}`
		ts := strconv.FormatInt(now.Unix(), 10)
		sig, err := builtin.SignDevice(key, builtin.SigningString(device.DeviceID, "POST", path, ts, "nonce-nonce-nonce-1", sha256.Sum256([]byte(answer))))
		if err != nil {
			t.Fatal(err)
		}
		code, body, hdr = h.do(t, "POST", path, answer, HeaderDeviceID, device.DeviceID, HeaderTimestamp, ts,
			HeaderNonce, "nonce-nonce-nonce-1", HeaderSignature, sig, "X-Request-ID", "req-dev-answer")
		if code != 200 || hdr.Get("X-Request-ID") != "req-dev-answer" {
			t.Fatalf("answer: %d %s", code, body)
		}

		rows := auditByResource(t, st)
		for res, want := range map[string]string{"device register": "req-dev-register", "device answer": "req-dev-answer",
			provider.ResourceInitiate: "req-initiate"} {
			if got := rows[res]; len(got) != 1 || got[0].RequestID != want {
				t.Errorf("%s rows: %+v, want one with request id %s", res, got, want)
			}
		}
	})
}
