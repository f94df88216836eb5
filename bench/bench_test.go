package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/emfa/emfa/internal/duofake"
	"github.com/emfa/emfa/internal/duosign"
)

// TestMain lets the harness re-execute the test binary as a stub or bare mediator, as it
// re-executes itself under go run.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(childMain(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// RFC 6238 appendix B, SHA1, truncated to six digits.
func TestTOTPCode(t *testing.T) {
	seed := []byte("12345678901234567890")
	for _, c := range []struct {
		unix int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {20000000000, "353130"}} {
		if got := totpCode(seed, c.unix/30); got != c.want {
			t.Errorf("T=%d: %s, want %s", c.unix, got, c.want)
		}
	}
}

// The hand-written signer against the strict fake used by emfa's own tests, through the
// bare mediator's whole contract.
func TestBareMediatorAgainstDuofake(t *testing.T) {
	duo := duofake.New(t, duofake.Options{IntegrationKey: "DIKEY", SecretKey: "secret key with spaces"})
	duo.AddUser("alice", duofake.Device{ID: "DP1", Type: "phone", Name: "Pixel", Number: "XXX-XXX-0100",
		Capabilities: []string{"auto", "push", "sms", "mobile_otp"}})
	duo.SetPushOutcome("alice", duofake.Allow)
	duo.SetPasscode("alice", "123456")
	u, _ := url.Parse(duo.URL())
	srv := httptest.NewServer(newBare(u, "DIKEY", "secret key with spaces", "verify", "pw"))
	defer srv.Close()

	call := func(step, body string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/providers/duo/"+step, strings.NewReader(body))
		req.SetBasicAuth("verify", "pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d %s", step, resp.StatusCode, b.Bytes())
		}
		return b.Bytes()
	}
	if err := checkEnrollments(bytes.ReplaceAll(call("enrollments", `{"username":"alice"}`), []byte("DP1"), []byte(stubDevice))); err != nil {
		t.Error(err)
	}
	var init contractStatus
	_ = json.Unmarshal(call("initiate", `{"capability":"duo:push","id":"DP1","attributes":{"username":"alice"}}`), &init)
	if init.Status != "PENDING" || init.TransactionID == "" {
		t.Fatalf("initiate: %+v", init)
	}
	if err := checkStatus("SUCCESS")(call("result", `{"capability":"push","id":"DP1","transactionId":"`+init.TransactionID+`","attributes":{"username":"alice"}}`)); err != nil {
		t.Error("result:", err)
	}
	if err := checkStatus("SUCCESS")(call("validate", `{"capability":"hotp","id":"DP1","attributes":{"username":"alice","passvalue":"123456"}}`)); err != nil {
		t.Error("validate:", err)
	}
	for _, r := range duo.Requests() {
		if r.Status != 200 {
			t.Errorf("duofake refused %s %s: %d %s", r.Method, r.Path, r.Status, r.Reject)
		}
	}
	// Wrong credentials inbound.
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/providers/duo/enrollments", strings.NewReader(`{"username":"alice"}`))
	req.SetBasicAuth("verify", "nope")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("bad password: HTTP %d", resp.StatusCode)
	}
}

func TestStubChecksSignatures(t *testing.T) {
	srv := httptest.NewServer(newStub("DIKEY", "skey", true))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	do := func(skey, method, path string, params url.Values) (int, []byte) {
		req, err := duosign.Request(base, "DIKEY", skey, method, path, params, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes()
	}
	if code, body := do("skey", "POST", "/auth/v2/preauth", url.Values{"username": {"a b"}}); code != 200 || checkPreauth(body) != nil {
		t.Errorf("preauth: %d %s", code, body)
	}
	code, body1 := do("skey", "POST", "/auth/v2/auth", url.Values{"async": {"1"}, "factor": {"push"}, "device": {stubDevice}, "username": {"a"}})
	_, body2 := do("skey", "POST", "/auth/v2/auth", url.Values{"async": {"1"}, "factor": {"push"}, "device": {stubDevice}, "username": {"a"}})
	if code != 200 || checkTxid(body1) != nil || bytes.Equal(body1, body2) {
		t.Errorf("auth: %d %s %s (txids must differ)", code, body1, body2)
	}
	if code, body := do("skey", "GET", "/auth/v2/auth_status", url.Values{"txid": {"x"}}); code != 200 || !bytes.Contains(body, []byte(`"allow"`)) {
		t.Errorf("auth_status: %d %s", code, body)
	}
	if code, _ := do("wrong", "GET", "/auth/v2/check", url.Values{}); code != 401 {
		t.Errorf("wrong secret: HTTP %d, want 401", code)
	}
}

// Every step the pool hands out is inside emfa's window and above the factor's last one.
func TestTOTPPoolSteps(t *testing.T) {
	fs := []*totpFactor{{id: "a", last: -1}, {id: "b", last: -1}}
	p := newTOTPPool(fs, 10, 1)
	seen := map[string]int64{}
	for range 4 {
		f, step, err := p.take(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		cur := time.Now().Unix() / 10
		if step < cur-1 || step > cur+1 || step <= seen[f.id] {
			t.Fatalf("factor %s: step %d (current %d, last %d)", f.id, step, cur, seen[f.id])
		}
		seen[f.id] = step
		p.put(f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for {
		f, _, err := p.take(ctx)
		if err != nil {
			break // used up: waits for the next step, until the deadline
		}
		p.put(f)
	}
	if p.starvedTime() <= 0 {
		t.Error("the wait for a fresh step was not counted")
	}
}

// The whole harness, one short round: every scenario answers as expected.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds emfa and runs every scenario for a second (about 25 s)")
	}
	repo, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	// -keep: the run's directory stays, with emfa's logs, where TMPDIR says.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	o := options{duration: time.Second, warmup: 100 * time.Millisecond, conc: 4, rounds: 1,
		pgDSN: os.Getenv("EMFA_TEST_POSTGRES_DSN"), pgExplicit: true, factors: 400, users: 2, period: 10,
		idle: 50, starts: 2, paced: 5, webhookID: true, keep: true, repo: repo, out: &out}
	// The deadline is for a hang, not for a slow machine: it includes building emfa, which
	// from a cold cache takes 75 s on an idle 2-core machine and far more while CI builds
	// every other package for the race detector beside it (2 minutes were not enough; 8
	// were not, on a machine loaded by other work besides: session 69). .ci/run gives a
	// package 20.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if err := run(ctx, o); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())
	for _, want := range []string{"| enrollments · emfa (duo.yaml) |", "| initiate push · bare Go mediator |",
		"| TOTP validate · emfa SQLite", "| TOTP validate · emfa SQLite · paced 5/s", "| enrollments (DUO preauth) |", "Start-up", "median of 2 fresh starts", "Provisioning 400 TOTP factors through the admin API",
		"Where the machine's CPU went", "| scenario | server | load generator | DUO stub |"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	errorsCol := regexp.MustCompile(`\| (\d+) / (\d+) \|$`)
	rows := 0
	for line := range strings.SplitSeq(out.String(), "\n") {
		if m := errorsCol.FindStringSubmatch(line); m != nil {
			rows++
			// A paced TOTP row comes after its open-loop row has used every fresh code,
			// and 1 s is less than a step: it is marked supply-limited and may count
			// none. The open-loop rows must count some: 400 factors are more than the
			// 100 ms warm-up can use, so a row of none means validation did not run.
			limited := strings.Contains(line, "supply-limited") && strings.Contains(line, "· paced")
			if m[1] != "0" || m[2] == "0" && !limited {
				t.Errorf("errors or no requests: %s", line)
			}
		}
	}
	if rows < 7 {
		t.Errorf("%d scenario rows, want at least 7", rows)
	}
	if kept, _ := filepath.Glob(filepath.Join(tmp, "emfa-bench-*", "emfa-duo.log")); len(kept) != 1 {
		t.Errorf("-keep: emfa's log kept at %v, want one", kept)
	}
	if strings.Contains(out.String(), "Run again with -keep") {
		t.Error("the report asks for -keep with no wrong answer, or with -keep given")
	}
}

// A report with wrong answers says how to keep the logs that would explain them.
func TestReportAsksToKeepLogs(t *testing.T) {
	s := &scenario{name: "TOTP validate · emfa SQLite"}
	results := map[*scenario][]measurement{s: {{requests: 10, errors: 1, elapsed: time.Second}}}
	for _, keep := range []bool{false, true} {
		var out bytes.Buffer
		report(options{out: &out, rounds: 1, keep: keep}, machine{}, []*scenario{s}, results, nil, memReport{}, nil, nil)
		if asks := strings.Contains(out.String(), "Run again with -keep"); asks == keep {
			t.Errorf("keep %v: the report asks for -keep: %v\n%s", keep, asks, out.String())
		}
	}
}

// A run without idle connections (-idle-conns 0) says so, not "NaN KiB per connection".
func TestReportWithoutIdleConns(t *testing.T) {
	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, nil, nil, nil, memReport{loaded: 40 << 10, before: 38 << 10, quietFor: 3 * time.Second, connsQuietFor: 5 * time.Second}, nil, nil)
	if got := out.String(); strings.Contains(got, "NaN") || !strings.Contains(got, "idle connections not measured") {
		t.Errorf("memory line:\n%s", got)
	}
}

// The machine line says what a page fault costs here, which start-up is made of; a probe
// that could not run (0) says nothing rather than "0s".
func TestReportPageFault(t *testing.T) {
	d := pageFaultCost()
	if d <= 0 || d > 100*time.Millisecond {
		t.Errorf("a page fault costs %v", d)
	}
	for _, tc := range []struct {
		fault time.Duration
		want  string
	}{{10500 * time.Nanosecond, "A page fault (first touch of an anonymous page) 10.50 µs."}, {210 * time.Nanosecond, "0.21 µs."}, {0, ""}} {
		var out bytes.Buffer
		report(options{out: &out, rounds: 1}, machine{pageFault: tc.fault}, nil, nil, nil, memReport{}, nil, nil)
		if got := out.String(); strings.Contains(got, "page fault") != (tc.want != "") || !strings.Contains(got, tc.want) {
			t.Errorf("fault %v: machine line:\n%s", tc.fault, got)
		}
	}
}

// pace hands out due times on the schedule, whatever the pace of their takers, and stops
// with its context.
func TestPace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		ctx, cancel := context.WithDeadline(t.Context(), start.Add(10*time.Millisecond))
		defer cancel()
		var got []time.Duration
		for due := range pace(ctx, start, 1000) {
			got = append(got, due.Sub(start))
			time.Sleep(3 * time.Millisecond) // a slow taker: the schedule does not move
		}
		want := []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
		if !slices.Equal(got, want) {
			t.Errorf("due times %v, want %v", got, want)
		}
	})
}

// A paced scenario counts latency from when a request was due: a server slower than the
// rate shows a growing backlog, not its service time.
func TestPacedLatencyCountsTheBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slow := roundTripFunc(func(*http.Request) (*http.Response, error) {
			time.Sleep(5 * time.Millisecond) // serves 200 a second on one worker
			return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("ok"))}, nil
		})
		s := &scenario{rate: 1000, check: func(int, []byte) error { return nil },
			build: func(ctx context.Context, _ int) (*http.Request, func(), error) {
				req, err := http.NewRequestWithContext(ctx, "GET", "http://bench.invalid/", nil)
				return req, nil, err
			}}
		m, err := s.loop(t.Context(), &http.Client{Transport: slow}, 1, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if m.requests < 19 || m.requests > 21 {
			t.Errorf("%d requests in 100 ms at 5 ms each", m.requests)
		}
		if m.lat[0] != 5*time.Millisecond {
			t.Errorf("the first request, due at once: %v, want 5ms", m.lat[0])
		}
		// The n-th request was due at n ms and answered at 5(n+1) ms.
		if p99 := m.quantile(0.99); p99 < 70*time.Millisecond {
			t.Errorf("p99 %v: the backlog is not counted", p99)
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The fsync probe beside a scenario always makes its first probe, and makes none where it
// cannot write.
func TestProbeFsync(t *testing.T) {
	ds := probeFsync(t.TempDir(), time.Hour)()
	if len(ds) != 1 || ds[0] <= 0 {
		t.Errorf("probe of a writable directory: %v, want one latency", ds)
	}
	if ds := probeFsync(filepath.Join(t.TempDir(), "missing"), time.Hour)(); len(ds) != 0 {
		t.Errorf("probe of a missing directory: %v, want none", ds)
	}
}

// The memory line splits the resident size at the connections into the binary's file
// pages and the process's own.
func TestReportRSSSplit(t *testing.T) {
	var out bytes.Buffer
	report(options{out: &out, rounds: 1}, machine{}, nil, nil, nil,
		memReport{conns: 1000, loaded: 40 << 10, before: 38 << 10, after: 60 << 10, afterFile: 27 << 10, quietFor: 3 * time.Second, connsQuietFor: 5 * time.Second}, nil, nil)
	if got := out.String(); !strings.Contains(got, "then idle for 5s: 60.0 MiB (+22.5 KiB per connection), of which 27.0 MiB are file pages") || !strings.Contains(got, "33.0 MiB the process's own") {
		t.Errorf("memory line:\n%s", got)
	}
	if v, err := statusKiB(os.Getpid(), "RssFile"); err != nil || v <= 0 {
		t.Errorf("RssFile of this process: %d, %v", v, err)
	}
	if _, err := statusKiB(os.Getpid(), "NoSuchField"); err == nil {
		t.Error("a missing field: no error")
	}
}

// A scenario's settle runs once, after its measured load: its CPU is charged to the row,
// its time is not.
func TestSettleChargedToItsRow(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	var settles, servedBefore int64
	const spin = 150 * time.Millisecond
	s := &scenario{pid: os.Getpid, check: func(int, []byte) error { return nil },
		build: func(ctx context.Context, _ int) (*http.Request, func(), error) {
			req, err := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
			return req, nil, err
		},
		settle: func(context.Context) error {
			settles++
			servedBefore = served.Load()
			// CPU for the row's account, then a wait that must not count as its time.
			start, err := cpuTime(os.Getpid())
			for d := time.Duration(0); err == nil && d-start < spin; d, err = cpuTime(os.Getpid()) {
			}
			time.Sleep(time.Second)
			return err
		}}
	m, err := s.run(t.Context(), 1, 0, 20*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if settles != 1 || servedBefore != served.Load() || int64(m.requests) != servedBefore {
		t.Errorf("settled %d times, after %d of %d requests (%d measured): want once, after the load", settles, servedBefore, served.Load(), m.requests)
	}
	if m.cpu.harness < spin {
		t.Errorf("the row's CPU %v leaves out the settle's %v", m.cpu.harness, spin)
	}
	if m.elapsed >= time.Second {
		t.Errorf("the row's time %v counts the settle's wait", m.elapsed)
	}
	boom := errors.New("boom")
	s.settle = func(context.Context) error { return boom }
	if _, err := s.run(t.Context(), 1, 0, 10*time.Millisecond); !errors.Is(err, boom) {
		t.Errorf("a failed settle: %v, want it reported", err)
	}
}

// pgSettle vacuums and analyses every table of the harness's schema and checkpoints.
func TestPGSettle(t *testing.T) {
	dsn := os.Getenv("EMFA_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("EMFA_TEST_POSTGRES_DSN is not set")
	}
	ctx := t.Context()
	schemaDSN, _, drop, err := pgSchema(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer drop()
	conn, err := pgx.Connect(ctx, schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{"CREATE TABLE a (id int)", "CREATE TABLE b (id int)",
		"INSERT INTO a SELECT generate_series(1, 1000)", "DELETE FROM a WHERE id % 2 = 0"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgSettle(ctx, schemaDSN); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL ORDER BY relname`)
	if err != nil {
		t.Fatal(err)
	}
	done, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(done, []string{"a", "b"}) {
		t.Errorf("tables vacuumed and analysed: %v, %v; want a and b", done, err)
	}
	// A role that may not CHECKPOINT (nor vacuum another role's tables) settles what it
	// may, and the run goes on.
	role := "emfa_bench_" + randHex(6)
	if _, err := conn.Exec(ctx, "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "DROP ROLE "+role)
	u, err := url.Parse(schemaDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	if err := pgSettle(ctx, u.String()); err != nil {
		t.Errorf("settling as a role refused CHECKPOINT: %v", err)
	}
	if err := pgSettle(ctx, "postgres://127.0.0.1:1/none?connect_timeout=1"); err == nil {
		t.Error("settling an unreachable server: no error")
	}
}
