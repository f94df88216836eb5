package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/telemetry"
)

// benchServer wires the real adapter, engine and SQLite store behind a loopback server,
// with a clock the benchmark moves so that every validation presents a fresh code.
func benchServer(b *testing.B) (srv *httptest.Server, factorID string, clock *atomic.Int64, seed []byte) {
	return benchServerOn(b, "")
}

// benchServerOn is benchServer on the storage section given ("" is a SQLite file), with
// idempotency records on, as serve has them.
func benchServerOn(b *testing.B, storage string) (srv *httptest.Server, factorID string, clock *atomic.Int64, seed []byte) {
	return benchServerWith(b, storage, nil)
}

// benchServerTraced is benchServer with tr tracing (nil: none), as serve wires it.
func benchServerTraced(b *testing.B, tr *telemetry.Tracing) (srv *httptest.Server, factorID string, clock *atomic.Int64, seed []byte) {
	srv, factorID, clock, seed = benchServerWith(b, "", nil)
	route := srv.Config.Handler.(routedHandler).route // as serve's live snapshot gives it
	srv.Config.Handler = tr.Handler(srv.Config.Handler, route)
	return srv, factorID, clock, seed
}

// benchServerWith is benchServerOn with metrics m counting (nil: none), as serve has them.
func benchServerWith(b *testing.B, storage string, m *telemetry.Metrics) (srv *httptest.Server, factorID string, clock *atomic.Int64, seed []byte) {
	b.Helper()
	e := openBenchEnv(b, storage, "")
	e.metrics = m
	ctx := context.Background()
	clock = &atomic.Int64{}
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	e.now = func() time.Time { return time.Unix(clock.Load(), 0) }
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
	srv = httptest.NewServer(routedHandler{a.Handler(), a.SpanRoute})
	b.Cleanup(srv.Close)
	return srv, enrolled.Factor.ID, clock, seed
}

// routedHandler is the adapter's handler with its SpanRoute, for benchServerTraced.
type routedHandler struct {
	http.Handler
	route func(*http.Request) string
}

// openBenchEnv opens the environment of a provider exposing TOTP with the builtin section
// given ("" for the defaults), on the storage section given ("" is a SQLite file).
func openBenchEnv(b *testing.B, storage, builtinSection string) *env {
	b.Helper()
	dir := b.TempDir()
	path := dir + "/emfa.yaml"
	if storage == "" {
		storage = fmt.Sprintf(`{driver: sqlite, dsn: "file:%s/emfa.db"}`, dir)
	}
	if builtinSection != "" {
		builtinSection = ", builtin: " + builtinSection
	}
	cfg := fmt.Sprintf(`server: {auth: {basic: {username: verify, password: sim-password-0123}}}
storage: %s
log: {level: warn}
providers: [{name: B, credentialPrefix: emfa, capabilities: [totp]%s}]
`, storage[:len(storage)-1]+fmt.Sprintf(", encryptionKey: %q}", testEncryptionKey), builtinSection)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	e := openTestEnv(b, path)
	b.Cleanup(func() { e.Close() })
	return e
}

// BenchmarkHTTPValidate is one successful TOTP validation through the whole stack: HTTP
// on loopback, auth, decoding, engine, AES-GCM, HMAC, and the atomic counter update.
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

// BenchmarkHTTPValidateTracing is the cost of tracing on the validate path: without,
// and with every request sampled (ratio 1) into an in-memory exporter — the server span,
// the contract span and the store unit's span.
func BenchmarkHTTPValidateTracing(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("tracing=%v", on), func(b *testing.B) {
			var tr *telemetry.Tracing
			if on {
				exp := tracetest.NewInMemoryExporter()
				var err error
				if tr, err = telemetry.NewTracing(b.Context(), telemetry.TracingOptions{SampleRatio: 1, Exporter: exp}); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { tr.Shutdown(context.Background()) })
				defer func() {
					if len(exp.GetSpans()) == 0 {
						b.Error("no spans")
					}
				}()
			}
			srv, factorID, clock, seed := benchServerTraced(b, tr)
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

func benchValidate(b *testing.B, srv *httptest.Server, factorID string, clock *atomic.Int64, seed []byte, withID bool) {
	client := srv.Client()
	for b.Loop() {
		now := clock.Add(30)
		code := builtin.HOTP(builtin.SHA1, seed, uint64(now/30), 6)
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

// benchClients is how many clients the parallel benchmarks run at once: the load issue 16
// sets its throughput target at.
const benchClients = 64

// BenchmarkHTTPValidateParallel is successful TOTP validations from benchClients clients
// at once, each on a factor of its own, on SQLite and on PostgreSQL: the throughput with
// every counter update, audit row and idempotency record (X-Webhook-ID) durable. It reports validations per second and the
// latency percentiles a client sees.
//
// The clock moves by one step per benchClients validations, so that each client finds a
// fresh step about once per round; a client ahead of the clock waits for it, and the
// window of 2 absorbs the steps the clock moves while a request is in flight. failed/op
// counts validations that fell outside it anyway (they are not replays and lock nothing).
//
// "open" lets the clients go as fast as they can; "rate=N" paces them to N validations a
// second in all, for the latency at a given load (issue 16 wants p99 at half its target).
func BenchmarkHTTPValidateParallel(b *testing.B) {
	for _, st := range []string{"sqlite", "postgres"} {
		for _, rate := range []int{0, 2500} {
			name := st + "/open"
			if rate > 0 {
				name = fmt.Sprintf("%s/rate=%d", st, rate)
			}
			b.Run(name, func(b *testing.B) {
				storage := ""
				if st == "postgres" {
					sv := testdb.Connect(b)
					storage = fmt.Sprintf("{driver: postgres, dsn: %q}", sv.SchemaDSN(b, sv.NewSchema(b)))
				}
				benchValidateParallel(b, storage, rate)
			})
		}
	}
}

func benchValidateParallel(b *testing.B, storage string, rate int) {
	if storage != "" {
		// A deployment's pool, not the tests' small one (testdb).
		storage = storage[:len(storage)-1] + ", maxConnections: 16}"
	}
	e := openBenchEnv(b, storage, "{totp: {window: 2}, lockout: {maxFailures: 100}, maxFactorsPerUser: 100}")
	ctx := context.Background()
	const period = 30_000 // ms
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	e.now = func() time.Time { return time.UnixMilli(clock.Load()) }
	if err := e.store.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: e.now()}); err != nil {
		b.Fatal(err)
	}
	seed := []byte("0123456789abcdefghij")
	engine, _ := e.enrollEngine(builtin.TypeTOTP)
	factors := make([]string, benchClients)
	for i := range factors {
		enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: builtin.TypeTOTP, User: "alice",
			Values: url.Values{"secret": {builtin.EncodeSecret(seed)}}})
		if err != nil {
			b.Fatal(err)
		}
		factors[i] = enrolled.Factor.ID
	}
	providers, err := e.providers()
	if err != nil {
		b.Fatal(err)
	}
	// Every call carries a fresh X-Webhook-ID, as Verify's do: its record is part of the cost.
	a := adapter.New(adapter.Options{Providers: providers, Log: e.log, Ready: e.store.Ping,
		Auth:        adapter.Auth{BasicUsername: "verify", BasicPassword: "sim-password-0123"},
		Idempotency: &provider.Idempotency{Store: e.store, TTL: 10 * time.Minute, Lease: 12 * time.Second}})
	srv := httptest.NewServer(a.Handler())
	b.Cleanup(srv.Close)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = benchClients

	var next, failed atomic.Int64
	latencies := make([][]time.Duration, benchClients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	// A paced run hands out one start per 1/rate; the clients take them as they come.
	var starts chan struct{}
	if rate > 0 {
		starts = make(chan struct{}, benchClients)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			for i := 0; ; i++ {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))))
				select {
				case starts <- struct{}{}:
				case <-stop:
					return
				}
			}
		}()
	}
	for i := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := int64(-1)
			for next.Add(1) <= int64(b.N) {
				if starts != nil {
					<-starts
				}
				step := max(last+1, clock.Load()/period)
				for step > clock.Load()/period+1 {
					time.Sleep(100 * time.Microsecond) // ahead of the clock: wait for it
				}
				last = step
				code := builtin.HOTP(builtin.SHA1, seed, uint64(step), 6)
				body := fmt.Sprintf(`{"capability":"totp","id":%q,"attributes":{"username":"alice","passvalue":%q}}`, factors[i], code)
				req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/emfa/validate", strings.NewReader(body))
				req.SetBasicAuth("verify", "sim-password-0123")
				req.Header.Set("X-Webhook-ID", newWebhookID())
				t := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				latencies[i] = append(latencies[i], time.Since(t))
				// Rounded up: 64 × 468 ms would lose 48 ms a round, and after ~40,000
				// validations every client would be a step ahead of the clock, waiting for
				// it to move, and none left to move it. A clock a little fast only makes
				// clients skip a step.
				clock.Add((period + benchClients - 1) / benchClients)
				switch string(out) {
				case `{"status":"SUCCESS"}` + "\n":
				case `{"status":"FAILED"}` + "\n":
					failed.Add(1)
				default:
					b.Errorf("validate: %d %s", resp.StatusCode, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(len(all))/elapsed.Seconds(), "validations/s")
		b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(failed.Load())/float64(len(all)), "failed/op")
	}
}
