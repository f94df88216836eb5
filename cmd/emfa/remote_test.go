package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/verifyfiles"
)

func TestCheckReportsTransformErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vendor.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: "file:%s/emfa.db", encryptionKey: %q}
providers:
  - name: Vendor
    credentialPrefix: vend
    engine: remote
    capabilities: [push]
    remote:
      urls: ["https://vendor.example.com"]
      resources:
        initiate:
          suffix: /start
          transform:
            outgoing: '{"body": {"user": body.attributes.username +}}'
            incoming: '{"body": {"status": status}}'
        result: {method: TELEPORT}
`, dir, testEncryptionKey)), 0o600)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 {
		t.Fatalf("check: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		// The file and the line of the transform's key, then the position in its CEL.
		path + ":14: providers[0] (vend).remote.resources.initiate.transform.outgoing: 1:45: Syntax error",
		path + ":15: providers[0] (vend).remote.resources.initiate.transform.incoming: 1:21: undeclared reference to 'status'",
		path + ":16: providers[0] (vend).remote.resources.result.method",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
	// serve refuses the same configuration before listening.
	// serve names the file and line as check does.
	code, _, errOut = emfa(t, "serve", "--config", path)
	if code != 1 {
		t.Errorf("serve with a broken transform: exit %d", code)
	}
	if want := path + ":14: providers[0] (vend).remote.resources.initiate.transform.outgoing: 1:45"; !strings.Contains(errOut, want) {
		t.Errorf("serve's output lacks %q:\n%s", want, errOut)
	}
	// ... and before it touches the store: no database is created, none migrated.
	if _, err := os.Stat(filepath.Join(dir, "emfa.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("serve refusing a broken transform left a database behind (%v)", err)
	}
}

// emfa transform eval runs IBM's DUO transform as Verify's playground would.
func TestTransformEval(t *testing.T) {
	webhook := verifyfiles.Path(t, "ibm-duo-webhook.json")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`server: {auth: {basic: {username: v, password: verify-password-0123}}}
storage: {dsn: "file:%s/emfa.db", encryptionKey: %q}
providers:
  - name: DUO
    credentialPrefix: duo
    engine: remote
    capabilities: [push, smsotp, hotp]
    remote:
      webhookFile: %q
      values: {duo_url: "https://api-x.duosecurity.com", duo_integration_key: IKEY, duo_signing_key: SKEY}
`, dir, testEncryptionKey, webhook)), 0o600)
	input := filepath.Join(dir, "in.json")
	os.WriteFile(input, []byte(`{"body": {"response": {"devices": [{"device": "D1", "name": "Phone", "capabilities": ["auto", "push", "mobile_otp"]}]}}}`), 0o600)
	out := mustEmfa(t, "transform", "eval", "--config", cfg, "--provider", "duo", "--resource", "enrollments", "--direction", "incoming", "--input", input)
	var got struct{ Body []map[string]any }
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Body) != 2 || got.Body[0]["capability"] != "push" || got.Body[1]["capability"] != "hotp" {
		t.Errorf("eval incoming: %v\n%s", err, out)
	}
	os.WriteFile(input, []byte(`{"body": {"username": "alice"}, "now": "2026-11-22T10:00:00Z"}`), 0o600)
	out = mustEmfa(t, "transform", "eval", "--config", cfg, "--provider", "duo", "--resource", "enrollments", "--direction", "outgoing", "--input", input)
	for _, want := range []string{`"body": "username=alice"`, `"22 Nov 26 10:00 +0000"`, `"skip_authentication": true`} {
		if !strings.Contains(out, want) {
			t.Errorf("eval outgoing lacks %s:\n%s", want, out)
		}
	}
	if code, _, errOut := emfa(t, "transform", "eval", "--config", cfg, "--provider", "duo", "--resource", "nope", "--direction", "outgoing", "--input", input); code != 1 || !strings.Contains(errOut, "no resource") {
		t.Errorf("unknown resource: %d %s", code, errOut)
	}
}

// BenchmarkMediatedPushInitiate is one mediated call through the whole stack: Verify's
// HTTP call on loopback, IBM's outgoing transform (HMAC signature), the call to the DUO
// fake (which checks it), the incoming transform, and the transaction write.
func BenchmarkMediatedPushInitiate(b *testing.B) {
	base := mediatedDUO(b)
	client := &http.Client{Timeout: 10 * time.Second}
	for b.Loop() {
		mediatedInitiate(b, client, base, "")
	}
}

// BenchmarkMediatedPushInitiateParallel is the same call from 32 clients at once, each
// call with a fresh X-Webhook-ID as Verify sends: its idempotency record is part of the
// cost, and the store's writer batches the clients' writes.
func BenchmarkMediatedPushInitiateParallel(b *testing.B) {
	base := mediatedDUO(b)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !mediatedInitiate(b, client, base, fmt.Sprint("bench-", seq.Add(1))) {
				return
			}
		}
	})
}

// BenchmarkMediatedEnrollmentsParallel is the enrollments lookup through IBM's DUO
// transforms from 32 clients at once: no store write, so it is the mediation's own cost
// (CEL, signing, the vendor call) plus the HTTP surface.
func BenchmarkMediatedEnrollmentsParallel(b *testing.B) {
	enrollmentsParallel(b, mediatedDUO(b))
}

// enrollmentsParallel asks base's duo provider for alice's enrollments from 32 clients at
// once, each answer checked.
func enrollmentsParallel(b *testing.B, base string) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(16) // × GOMAXPROCS
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", base+"/v1/providers/duo/enrollments", strings.NewReader(`{"username":"alice"}`))
			req.SetBasicAuth("verify", "sim-password-0123")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(data), aliceID) {
				b.Errorf("enrollments: %d %s", resp.StatusCode, data)
				return
			}
		}
	})
}

func mediatedDUO(b *testing.B) (base string) {
	webhook := verifyfiles.Path(b, "ibm-duo-webhook.json")
	duo := duofake.New(b, duofake.Options{IntegrationKey: duoIKey, SecretKey: duoSKey})
	duo.AddUser("alice", duofake.Device{ID: aliceID, Type: "phone", Capabilities: []string{"push"}})
	dir := b.TempDir()
	path := filepath.Join(dir, "emfa.yaml")
	os.WriteFile(path, []byte(fmt.Sprintf(`server: {listen: "127.0.0.1:0", auth: {basic: {username: verify, password: sim-password-0123}}}
storage: {driver: sqlite, dsn: "file:%s/emfa.db", encryptionKey: %q}
log: {level: error}
providers:
  - {name: DUO, credentialPrefix: duo, capabilities: [push], engine: remote,
     remote: {webhookFile: %q, values: {duo_url: %q, duo_integration_key: %s, duo_signing_key: %s}}}
`, dir, testEncryptionKey, webhook, duo.URL(), duoIKey, duoSKey)), 0o600)
	base, _ = startServe(b, path)
	return base
}

// mediatedInitiate makes one push initiate for alice and reports whether it answered PENDING.
func mediatedInitiate(b *testing.B, client *http.Client, base, webhookID string) bool {
	req, _ := http.NewRequest("POST", base+"/v1/providers/duo/initiate",
		strings.NewReader(`{"capability":"push","id":"`+aliceID+`","attributes":{"username":"alice"}}`))
	req.SetBasicAuth("verify", "sim-password-0123")
	if webhookID != "" {
		req.Header.Set("X-Webhook-ID", webhookID)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Error(err)
		return false
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(data), `"PENDING"`) {
		b.Errorf("initiate: %s", data)
		return false
	}
	return true
}
