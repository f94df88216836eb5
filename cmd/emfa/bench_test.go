package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/telemetry"
)

// benchServer wires the real adapter, engine and SQLite store behind a loopback server,
// with a clock the benchmark moves so that every validation presents a fresh code.
func benchServer(b *testing.B) (srv *httptest.Server, factorID string, clock *manualClock, seed []byte) {
	return benchServerOn(b, "")
}

// benchServerOn is benchServer on the storage section given ("" is a SQLite file), with
// idempotency records on, as serve has them.
func benchServerOn(b *testing.B, storage string) (srv *httptest.Server, factorID string, clock *manualClock, seed []byte) {
	return benchServerWith(b, storage, nil)
}

// benchServerWith is benchServerOn with metrics m counting (nil: none), as serve has them.
func benchServerWith(b *testing.B, storage string, m *telemetry.Metrics) (srv *httptest.Server, factorID string, clock *manualClock, seed []byte) {
	b.Helper()
	dir := b.TempDir()
	path := dir + "/emfa.yaml"
	if storage == "" {
		storage = fmt.Sprintf(`{driver: sqlite, dsn: "file:%s/emfa.db"}`, dir)
	}
	writeBenchConfig(b, path, storage)
	ctx := context.Background()
	e := openTestEnv(b, path)
	e.metrics = m
	b.Cleanup(func() { e.Close() })
	clock = &manualClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e.now = clock.Now
	if err := e.store.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: e.now()}); err != nil {
		b.Fatal(err)
	}
	seed = []byte("0123456789abcdefghij")
	engine, _ := e.enrollEngine(builtin.TypeTOTP)
	enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypeTOTP, User: "alice",
		Values: url.Values{"secret": {builtin.EncodeSecret(seed)}}})
	if err != nil {
		b.Fatal(err)
	}
	providers, err := e.providers()
	if err != nil {
		b.Fatal(err)
	}
	o := adapter.Options{Providers: providers, Log: e.log, Ready: e.store.Ping,
		Auth:        adapter.Auth{BasicUsername: "verify", BasicPassword: "sim-password-0123"},
		Idempotency: &provider.Idempotency{Store: e.store, TTL: 10 * time.Minute, Lease: 12 * time.Second, Now: e.now}}
	if m != nil {
		o.Observer, o.Metrics = m, m.Handler("")
	}
	a := adapter.New(o)
	srv = httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	return srv, enrolled.Factor.ID, clock, seed
}

func writeBenchConfig(b *testing.B, path, storage string) {
	cfg := fmt.Sprintf(`server: {auth: {basic: {username: verify, password: sim-password-0123}}}
storage: %s
log: {level: warn}
providers: [{name: B, credentialPrefix: emfa, capabilities: [totp]}]
`, storage[:len(storage)-1]+fmt.Sprintf(", encryptionKey: %q}", testEncryptionKey))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHTTPValidate is one successful TOTP validation through the whole stack: HTTP
// on loopback, auth, decoding, engine, AES-GCM, HMAC, and the fake clock's update.
func BenchmarkHTTPValidate(b *testing.B) {
	srv, factorID, clock, seed := benchServer(b)
	benchValidate(b, srv, factorID, clock, seed, false)
}

// BenchmarkHTTPValidateMetrics is the cost of the Prometheus metrics on the validate
// path: the same call without and with every observer counting.
func BenchmarkHTTPValidateMetrics(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", on), func(b *testing.B) {
			var m *telemetry.Metrics
			if on {
				m = telemetry.NewMetrics("bench")
			}
			srv, factorID, clock, seed := benchServerWith(b, "", m)
			benchValidate(b, srv, factorID, clock, seed, false)
		})
	}
}

// BenchmarkHTTPValidateIdempotency is the cost of the idempotency record on the validate
// path (verify-contract.md §12): without X-Webhook-ID (no record) and with a fresh one per
// call (claim and complete: two more writes), on SQLite and on PostgreSQL.
func BenchmarkHTTPValidateIdempotency(b *testing.B) {
	for _, st := range []string{"sqlite", "postgres"} {
		for _, withID := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/webhookID=%v", st, withID), func(b *testing.B) {
				storage := ""
				if st == "postgres" {
					sv := testdb.Connect(b)
					storage = fmt.Sprintf("{driver: postgres, dsn: %q}", sv.SchemaDSN(b, sv.NewSchema(b)))
				}
				srv, factorID, clock, seed := benchServerOn(b, storage)
				benchValidate(b, srv, factorID, clock, seed, withID)
			})
		}
	}
}

func benchValidate(b *testing.B, srv *httptest.Server, factorID string, clock *manualClock, seed []byte, withID bool) {
	client := srv.Client()
	for b.Loop() {
		clock.Advance(30 * time.Second)
		code := builtin.HOTP(builtin.SHA1, seed, uint64(clock.Now().Unix()/30), 6)
		body := fmt.Sprintf(`{"capability":"totp","id":%q,"attributes":{"username":"alice","passvalue":%q}}`, factorID, code)
		req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/emfa/validate", strings.NewReader(body))
		req.SetBasicAuth("verify", "sim-password-0123")
		if withID {
			req.Header.Set("X-Webhook-ID", newWebhookID())
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(out) != `{"status":"SUCCESS"}`+"\n" {
			b.Fatalf("validate: %s", out)
		}
	}
}

// BenchmarkHTTPEnrollmentsParallel is the lookup Verify makes before every challenge.
func BenchmarkHTTPEnrollmentsParallel(b *testing.B) {
	srv, _, _, _ := benchServer(b)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/emfa/enrollments", strings.NewReader(`{"username":"alice"}`))
			req.SetBasicAuth("verify", "sim-password-0123")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
