// Command bench measures emfa against a hand-written Go mediator and a DUO-shaped stub, and
// emfa's built-in TOTP on SQLite and PostgreSQL, all on loopback, in one invocation:
//
//	go run ./bench [-duration 10s] [-c 16] [-rounds 3] [-pg DSN|""] [-factors 20000]
//
// It builds emfa, starts every server as a child process, provisions TOTP factors through
// emfa's CLI, runs the scenarios interleaved for several rounds, and prints a Markdown table
// of medians. Every child is stopped and every temporary file removed on exit, Ctrl-C
// included. BENCHMARKS.md describes the method.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emfa/emfa/internal/connpark"
	"github.com/emfa/emfa/internal/duosign"
)

// roleEnv selects a child's role (stub or bare) when the harness re-executes itself.
const roleEnv = "EMFA_BENCH_ROLE"

const defaultPG = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

type options struct {
	duration, warmup time.Duration
	conc, rounds     int
	pgDSN            string
	pgExplicit       bool // -pg given: unreachable is an error, not a skip
	factors, users   int
	period           int
	idle             int
	starts           int // fresh starts of duo.yaml for the start-up median; 0: none
	paced            int // requests a second of the paced TOTP rows; 0: none
	webhookID        bool
	logLevel         string
	only             *regexp.Regexp
	sqliteDir        string
	keep             bool // keep the temporary directory: emfa's logs and databases
	repo             string
	out              io.Writer
}

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(childMain(role, os.Args[1:]))
	}
	var o options
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each scenario in each round")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each measurement")
	fs.IntVar(&o.conc, "c", 16, "concurrent keep-alive clients (closed loop)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of all scenarios, interleaved; the table shows medians")
	fs.StringVar(&o.pgDSN, "pg", defaultPG, "PostgreSQL DSN for the TOTP-on-PostgreSQL scenario; \"\" skips it (so does the default DSN when unreachable)")
	fs.IntVar(&o.factors, "factors", 20000, "TOTP factors provisioned in each store: at least the TOTP rows' rate × -period, or they run out of fresh codes (BENCHMARKS.md)")
	fs.IntVar(&o.users, "users", 400, "users the TOTP factors are spread over")
	fs.IntVar(&o.period, "period", 10, "TOTP period in seconds (emfa accepts 10 to 300)")
	fs.IntVar(&o.paced, "paced", 2500, "requests a second of the paced TOTP rows, for latency at a given load (issue 16: p99 at half its 5,000/s); 0 skips them")
	fs.IntVar(&o.idle, "idle-conns", 1000, "idle keep-alive connections held open for the RSS measurement")
	fs.IntVar(&o.starts, "starts", 9, "fresh starts of emfa with duo.yaml (each on a new database) for the start-up median; 0 skips them")
	fs.BoolVar(&o.webhookID, "webhook-id", true, "send a fresh X-Webhook-ID with every contract call, as Verify does")
	fs.StringVar(&o.logLevel, "emfa-log-level", "", "EMFA_LOG_LEVEL for the emfa servers (default: emfa's own, info)")
	fs.StringVar(&o.sqliteDir, "sqlite-dir", "", "directory for the SQLite databases (default: the run's temporary directory; /dev/shm takes the disk out)")
	fs.BoolVar(&o.keep, "keep", false, "keep the run's temporary directory (emfa's logs and databases) and print where it is")
	only := fs.String("only", "", "run only the scenarios whose name matches this regular expression")
	_ = fs.Parse(os.Args[1:])
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -only:", err)
			os.Exit(2)
		}
		o.only = re
	}
	fs.Visit(func(f *flag.Flag) { o.pgExplicit = o.pgExplicit || f.Name == "pg" })
	if fs.NArg() > 0 || o.duration <= 0 || o.conc < 1 || o.rounds < 1 || o.factors < 1 || o.users < 1 || o.users > o.factors {
		fmt.Fprintln(os.Stderr, "bench: bad arguments (see -h)")
		os.Exit(2)
	}
	repo, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	o.repo, o.out = repo, os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, o)
	stop()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "bench: interrupted; children stopped, temporary files removed")
		} else {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

// started is when the harness began: every progress line says how long ago, so a slow
// phase (a cold build, a long provisioning) shows where the time went.
var started = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: %5.1fs "+format+"\n", append([]any{time.Since(started).Seconds()}, args...)...)
}

// repoRoot is the directory of emfa's go.mod, from the working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/emfa/emfa\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run me inside the emfa repository (go run ./bench)")
		}
		dir = parent
	}
}

// childMain serves one role on an ephemeral loopback port, announced on stdout.
func childMain(role string, args []string) int {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	// Keys and passwords come in the environment, not on a command line ps shows.
	ikey, skey, pass := os.Getenv("BENCH_DUO_IKEY"), os.Getenv("BENCH_DUO_SKEY"), os.Getenv("BENCH_VERIFY_PASSWORD")
	verify := fs.Bool("verify", true, "stub: check signatures")
	duo := fs.String("duo", "", "bare: the DUO base URL")
	user := fs.String("user", "verify", "bare: Verify's Basic user")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var h http.Handler
	switch role {
	case "stub":
		h = newStub(ikey, skey, *verify)
	case "bare":
		u, err := url.Parse(*duo)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		h = newBare(u, ikey, skey, *user, pass)
	default:
		fmt.Fprintln(os.Stderr, "unknown role", role)
		return 2
	}
	return serveChild(h)
}

func serveChild(h http.Handler) int {
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 2 * time.Minute}
	ln, err := listenLoopback()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("listening " + ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// env is the environment of emfa's processes: the harness's, without any EMFA_ or DUO_
// setting that could change what is measured, plus kv.
func env(kv ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "EMFA_") && !strings.HasPrefix(e, "DUO_") {
			out = append(out, e)
		}
	}
	return append(out, kv...)
}

// emfaServer is one running emfa serve.
type emfaServer struct {
	*proc
	base    string
	startup time.Duration
}

func startEmfa(ctx context.Context, bin, name, config, tmp string, kv []string) (*emfaServer, error) {
	return startEmfaTLS(ctx, bin, name, config, tmp, kv, nil)
}

// startEmfaTLS is startEmfa in HTTPS when t is not nil: kv then sets server.tls, and t is
// how a client trusts its certificate.
func startEmfaTLS(ctx context.Context, bin, name, config, tmp string, kv []string, t *tls.Config) (*emfaServer, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Env = env(append(kv, "EMFA_SERVER_LISTEN="+addr)...)
	started := time.Now()
	p, err := startProc(name, cmd, filepath.Join(tmp, name+".log"))
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	if t != nil {
		base = "https://" + addr
	}
	up, err := waitReady(ctx, p, base, started, t)
	if err != nil {
		p.stop(time.Second)
		return nil, err
	}
	return &emfaServer{proc: p, base: base, startup: up}, nil
}

func totpConfig(path, storage string, period int) error {
	cfg := fmt.Sprintf(`# written by go run ./bench
server:
  listen: "127.0.0.1:0"   # EMFA_SERVER_LISTEN gives the port
  auth:
    basic: {username: verify, password: "${EMFA_VERIFY_PASSWORD}"}
storage:
  %s
  encryptionKey: "${EMFA_ENCRYPTION_KEY}"
providers:
  - name: Built-in TOTP
    credentialPrefix: emfa
    capabilities: [totp]
    engine: builtin
    builtin:
      totp: {period: %d, window: 1}
      maxFactorsPerUser: 1000   # the harness spreads thousands of factors over few users
`, storage, period)
	return os.WriteFile(path, []byte(cfg), 0o600)
}

func run(ctx context.Context, o options) (err error) {
	tmp, err := os.MkdirTemp("", "emfa-bench-")
	if err != nil {
		return err
	}
	defer removeUnlessKept(o, tmp)
	var procs []*proc
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop(5 * time.Second)
		}
	}()
	dbDir := tmp
	if o.sqliteDir != "" {
		if dbDir, err = os.MkdirTemp(o.sqliteDir, "emfa-bench-db-"); err != nil {
			return err
		}
		defer removeUnlessKept(o, dbDir)
	}
	info := machineInfo()
	info.loadStart, info.psiStart, info.started = loadAvg(), pressure(), time.Now()
	info.pageFault = pageFaultCost()
	info.fsync = append(info.fsync, fsyncLatency(dbDir))

	logf("building emfa")
	bin := filepath.Join(tmp, "emfa")
	// Built as the Dockerfile builds the image's binary, so the figures are the shipped one's.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, "./cmd/emfa")
	build.Dir, build.Stdout, build.Stderr = o.repo, os.Stderr, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("go build ./cmd/emfa: %w", err)
	}

	ikey, skey := "DIBENCH"+strings.ToUpper(randHex(7)), randHex(20)
	password := randHex(16)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	secrets := []string{"EMFA_VERIFY_PASSWORD=" + password, "EMFA_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key)}
	if o.logLevel != "" {
		secrets = append(secrets, "EMFA_LOG_LEVEL="+o.logLevel)
	}

	logf("starting the DUO stub and the bare mediator")
	childEnv := []string{"BENCH_DUO_IKEY=" + ikey, "BENCH_DUO_SKEY=" + skey, "BENCH_VERIFY_PASSWORD=" + password}
	stubP, stubAddr, err := startChild(ctx, "stub", nil, childEnv, filepath.Join(tmp, "stub.log"))
	if err != nil {
		return err
	}
	procs = append(procs, stubP)
	stubURL := &url.URL{Scheme: "http", Host: stubAddr}
	bareP, bareAddr, err := startChild(ctx, "bare", []string{"-duo", stubURL.String()}, childEnv, filepath.Join(tmp, "bare.log"))
	if err != nil {
		return err
	}
	procs = append(procs, bareP)

	logf("starting emfa with testdata/config/duo.yaml")
	duo, err := startEmfa(ctx, bin, "emfa-duo", filepath.Join(o.repo, "testdata/config/duo.yaml"), tmp, append(secrets,
		"DUO_API_URL="+stubURL.String(), "DUO_IKEY="+ikey, "DUO_SKEY="+skey,
		"EMFA_STORAGE_DSN=file:"+filepath.Join(dbDir, "duo.db")))
	if err != nil {
		return err
	}
	procs = append(procs, duo.proc)
	// One start, made as the run begins beside the stub's and the bare mediator's, says
	// little on a shared machine: the start-up figure is the median of fresh starts, one
	// at a time, while nothing else runs.
	var starts []time.Duration
	for i := range o.starts {
		if i == 0 {
			logf("starting emfa with duo.yaml %d times more, each on a new database, for the start-up median", o.starts)
		}
		name := fmt.Sprintf("emfa-duo-start-%d", i+1)
		s, err := startEmfa(ctx, bin, name, filepath.Join(o.repo, "testdata/config/duo.yaml"), tmp, append(secrets,
			"DUO_API_URL="+stubURL.String(), "DUO_IKEY="+ikey, "DUO_SKEY="+skey,
			"EMFA_STORAGE_DSN=file:"+filepath.Join(dbDir, name+".db")))
		if err != nil {
			return err
		}
		s.stop(5 * time.Second)
		starts = append(starts, s.startup)
	}

	type totpTarget struct {
		label       string
		server      *emfaServer
		pool        *totpPool
		skipped     string
		provisioned time.Duration
		settle      func(context.Context) error // after each of its rows (pgSettle)
	}
	var targets []*totpTarget
	for _, driver := range []string{"sqlite", "postgres"} {
		t := &totpTarget{label: map[string]string{"sqlite": "SQLite", "postgres": "PostgreSQL"}[driver]}
		if !o.selected(totpScenario(t.label)) && (o.paced <= 0 || !o.selected(pacedScenario(t.label, o.paced))) {
			continue
		}
		targets = append(targets, t)
		config := filepath.Join(tmp, "totp-"+driver+".yaml")
		var storage string
		switch driver {
		case "sqlite":
			storage = fmt.Sprintf("driver: sqlite\n  dsn: %q", "file:"+filepath.Join(dbDir, "totp.db"))
		case "postgres":
			if o.pgDSN == "" {
				t.skipped = "skipped (-pg \"\")"
				continue
			}
			dsn, version, drop, err := pgSchema(ctx, o.pgDSN)
			if err != nil {
				if o.pgExplicit {
					return err
				}
				logf("%v; skipping PostgreSQL", err)
				t.skipped = "skipped: " + err.Error()
				continue
			}
			defer drop()
			t.settle = func(ctx context.Context) error { return pgSettle(ctx, dsn) }
			info.postgres = "PostgreSQL " + version + " at " + redactDSN(o.pgDSN)
			storage = fmt.Sprintf("driver: postgres\n  dsn: %q", dsn)
		}
		if err := totpConfig(config, storage, o.period); err != nil {
			return err
		}
		logf("provisioning %d TOTP factors (period %ds) for %d users on %s through the emfa admin API", o.factors, o.period, o.users, t.label)
		began := time.Now()
		factors, err := provision(ctx, bin, config, env(secrets...), o.users, o.factors, o.period)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		t.provisioned = time.Since(began)
		logf("provisioned in %s", t.provisioned.Round(100*time.Millisecond))
		if t.settle != nil {
			// The provisioning's upkeep now, not in the first rows.
			if err := t.settle(ctx); err != nil {
				return err
			}
		}
		t.pool = newTOTPPool(factors, o.period, 1)
		t.server, err = startEmfa(ctx, bin, "emfa-totp-"+driver, config, tmp, secrets)
		if err != nil {
			return err
		}
		procs = append(procs, t.server.proc)
	}

	// The requests.
	var webhookSeq atomic.Uint64
	runID := randHex(4)
	contract := func(base, path string, body string) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth("verify", password)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if o.webhookID {
			req.Header.Set("X-Webhook-ID", "bench-"+runID+"-"+strconv.FormatUint(webhookSeq.Add(1), 10))
		}
		return req, nil
	}
	var userSeq atomic.Uint64
	duoUser := func() string { return "bench-user-" + strconv.FormatUint(userSeq.Add(1)%1000, 10) }
	enrollments := func(base string) func(context.Context, int) (*http.Request, func(), error) {
		return func(context.Context, int) (*http.Request, func(), error) {
			req, err := contract(base, "/v1/providers/duo/enrollments", `{"username":"`+duoUser()+`"}`)
			return req, nil, err
		}
	}
	initiate := func(base string) func(context.Context, int) (*http.Request, func(), error) {
		return func(context.Context, int) (*http.Request, func(), error) {
			req, err := contract(base, "/v1/providers/duo/initiate",
				`{"capability":"push","id":"`+stubDevice+`","attributes":{"username":"`+duoUser()+`"}}`)
			return req, nil, err
		}
	}
	direct := func(path string, params func() url.Values) func(context.Context, int) (*http.Request, func(), error) {
		return func(context.Context, int) (*http.Request, func(), error) {
			req, err := duosign.Request(stubURL, ikey, skey, http.MethodPost, path, params(), time.Now())
			return req, nil, err
		}
	}
	validate := func(t *totpTarget) func(context.Context, int) (*http.Request, func(), error) {
		return func(ctx context.Context, _ int) (*http.Request, func(), error) {
			f, step, err := t.pool.take(ctx)
			if err != nil {
				return nil, nil, err
			}
			req, err := contract(t.server.base, "/v1/providers/emfa/validate",
				`{"capability":"totp","id":"`+f.id+`","attributes":{"username":"`+f.user+`","passvalue":"`+totpCode(f.seed, step)+`"}}`)
			if err != nil {
				t.pool.put(f)
				return nil, nil, err
			}
			return req, func() { t.pool.put(f) }, nil
		}
	}
	pidOf := func(p *proc) func() int { return p.pid }
	scenarios := []*scenario{
		{name: "enrollments · bare Go mediator", pid: pidOf(bareP), stub: pidOf(stubP), build: enrollments("http://" + bareAddr), check: expect200(checkEnrollments)},
		{name: "enrollments · emfa (duo.yaml)", pid: pidOf(duo.proc), stub: pidOf(stubP), build: enrollments(duo.base), check: expect200(checkEnrollments)},
		{name: "preauth · DUO stub direct", pid: pidOf(stubP), check: expect200(checkPreauth),
			build: direct("/auth/v2/preauth", func() url.Values { return url.Values{"username": {duoUser()}} })},
		{name: "initiate push · bare Go mediator", pid: pidOf(bareP), stub: pidOf(stubP), build: initiate("http://" + bareAddr), check: expect200(checkPending)},
		{name: "initiate push · emfa (duo.yaml)", pid: pidOf(duo.proc), stub: pidOf(stubP), build: initiate(duo.base), check: expect200(checkPending)},
		{name: "auth async push · DUO stub direct", pid: pidOf(stubP), check: expect200(checkTxid),
			build: direct("/auth/v2/auth", func() url.Values {
				return url.Values{"async": {"1"}, "device": {stubDevice}, "factor": {"push"}, "username": {duoUser()}}
			})},
	}
	var skippedRows []string
	for _, t := range targets {
		name := totpScenario(t.label)
		if t.server == nil {
			skippedRows = append(skippedRows, name+": "+t.skipped)
			continue
		}
		scenarios = append(scenarios, &scenario{name: name, pid: pidOf(t.server.proc), build: validate(t),
			check: expect200(checkStatus("SUCCESS")), starved: t.pool.starvedTime, settle: t.settle})
		if o.paced > 0 {
			scenarios = append(scenarios, &scenario{name: pacedScenario(t.label, o.paced), pid: pidOf(t.server.proc),
				build: validate(t), check: expect200(checkStatus("SUCCESS")), starved: t.pool.starvedTime, rate: o.paced,
				settle: t.settle})
		}
	}

	scenarios = slices.DeleteFunc(scenarios, func(s *scenario) bool { return !o.selected(s.name) })
	if len(scenarios) == 0 {
		return errors.New("-only matches no scenario")
	}

	// One request of each first, so that a broken set-up fails fast and clearly.
	for _, s := range scenarios {
		if err := s.once(ctx); err != nil {
			return fmt.Errorf("%s: first request: %w", s.name, err)
		}
	}

	results := map[*scenario][]measurement{}
	for r := 1; r <= o.rounds; r++ {
		if r > 1 {
			info.fsync = append(info.fsync, fsyncLatency(dbDir))
		}
		logf("round %d/%d: fsync of a 4 KiB write in the SQLite directory takes %s (median of 20)", r, o.rounds, fmtDur(info.fsync[len(info.fsync)-1]))
		for _, s := range scenarios {
			probe := probeFsync(dbDir, fsyncProbeEvery)
			m, err := s.run(ctx, o.conc, o.warmup, o.duration)
			fsyncs := probe()
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			results[s] = append(results[s], m)
			logf("round %d/%d %-36s %8.0f req/s  p50 %-9s p99 %-9s errors %d%s", r, o.rounds, s.name, m.throughput(),
				fmtDur(m.quantile(0.5)), fmtDur(m.quantile(0.99)), m.errors, starvedNote(m))
			if len(fsyncs) > 0 {
				logf("    fsync of 4 KiB in the SQLite directory meanwhile, every %s: p50 %s, p99 %s, max %s (%d probes)",
					fsyncProbeEvery, fmtDur(quantile(fsyncs, 0.5)), fmtDur(quantile(fsyncs, 0.99)), fmtDur(fsyncs[len(fsyncs)-1]), len(fsyncs))
			}
			for _, e := range m.errSample {
				logf("    error: %s", e)
			}
		}
	}

	// Memory with idle keep-alive connections, on the DUO emfa after the load: at once, once
	// quiet, and with Verify's connections open, each having made an enrollments call (so
	// through the transforms and the DUO stub) and then left idle.
	mem := memReport{conns: o.idle, quietFor: memQuiet, connsQuietFor: connsQuiet}
	mem.loaded, mem.loadedAfter = lastRSS(scenarios, results, duo.pid())
	time.Sleep(memQuiet)
	if mem.before, err = rssKiB(duo.pid()); err != nil {
		return err
	}
	enrollment := func(addr string) func() string {
		return func() string {
			body := `{"username":"` + duoUser() + `"}`
			return "POST /v1/providers/duo/enrollments HTTP/1.1\r\nHost: " + addr +
				"\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("verify:"+password)) +
				"\r\nContent-Type: application/json\r\nX-Webhook-ID: bench-idle-" + randHex(8) +
				"\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		}
	}
	duoAddr := strings.TrimPrefix(duo.base, "http://")
	closeConns, err := idleConns(duoAddr, o.idle, nil, enrollment(duoAddr))
	if err != nil {
		mem.err = err
	} else {
		time.Sleep(connsQuiet)
		mem.after, mem.err = rssKiB(duo.pid())
		if mem.err == nil {
			mem.afterFile, mem.err = statusKiB(duo.pid(), "RssFile")
		}
		closeConns()
	}
	if o.idle > 0 {
		// The same connections in HTTPS: a second emfa with duo.yaml under server.tls,
		// started now (it has served no load), on a certificate of the run's own.
		mem.tls = func() (m tlsMem) {
			certFile, keyFile, client, err := selfSignedCert(tmp)
			if err != nil {
				m.err = err
				return m
			}
			s, err := startEmfaTLS(ctx, bin, "emfa-duo-tls", filepath.Join(o.repo, "testdata/config/duo.yaml"), tmp, append(secrets,
				"DUO_API_URL="+stubURL.String(), "DUO_IKEY="+ikey, "DUO_SKEY="+skey,
				"EMFA_STORAGE_DSN=file:"+filepath.Join(dbDir, "duo-tls.db"),
				"EMFA_SERVER_TLS_CERT="+certFile, "EMFA_SERVER_TLS_KEY="+keyFile), client)
			if err != nil {
				m.err = err
				return m
			}
			defer s.proc.stop(5 * time.Second)
			time.Sleep(memQuiet)
			if m.before, m.err = rssKiB(s.pid()); m.err != nil {
				return m
			}
			addr := strings.TrimPrefix(s.base, "https://")
			closeConns, err := idleConns(addr, o.idle, client, enrollment(addr))
			if err != nil {
				m.err = err
				return m
			}
			defer closeConns()
			time.Sleep(connsQuiet)
			m.after, m.err = rssKiB(s.pid())
			return m
		}()
	}
	info.loadEnd, info.psiEnd, info.ended = loadAvg(), pressure(), time.Now()
	info.fsync = append(info.fsync, fsyncLatency(dbDir))
	info.sqlite = "SQLite files in " + dbDir[:strings.LastIndexByte(dbDir, '/')]

	startups := []startup{{what: "emfa duo.yaml (SQLite) as the run began", d: duo.startup}}
	if len(starts) > 0 {
		startups = append(startups, startup{what: fmt.Sprintf("emfa duo.yaml (SQLite), median of %d fresh starts", len(starts)),
			d: median(starts), spread: [2]time.Duration{slices.Min(starts), slices.Max(starts)}})
	}
	var provisioned []startup
	for _, t := range targets {
		if t.server != nil {
			startups = append(startups, startup{what: "emfa TOTP " + t.label + fmt.Sprintf(" (%d factors)", o.factors), d: t.server.startup})
			provisioned = append(provisioned, startup{what: t.label, d: t.provisioned})
		}
	}
	report(o, info, scenarios, results, skippedRows, mem, startups, provisioned)
	return runOutcome(scenarios, results, procs)
}

// lastRSS is the RSS of the server pid as the last measurement of its rows ended, and that
// row's name: read then, since after the rows that follow it (the stub's, the TOTP ones)
// the server has long been idle and has returned its memory. 0 and "" if none of its rows ran.
func lastRSS(scenarios []*scenario, results map[*scenario][]measurement, pid int) (kib int, row string) {
	for _, s := range scenarios {
		if ms := results[s]; len(ms) > 0 && s.pid() == pid {
			kib, row = ms[len(ms)-1].rss, s.name
		}
	}
	return kib, row
}

// runOutcome fails a run, once its report is printed, whose answers were not all right or
// one of whose servers ended before the harness stopped it: bench then exits 1, so that
// nobody takes its figures for a clean run's.
func runOutcome(scenarios []*scenario, results map[*scenario][]measurement, procs []*proc) error {
	var errs []error
	total := 0
	var rows []string
	for _, s := range scenarios {
		n := 0
		for _, m := range results[s] {
			n += m.errors
		}
		if n > 0 {
			total += n
			rows = append(rows, fmt.Sprintf("%s %d", s.name, n))
		}
	}
	if total > 0 {
		errs = append(errs, fmt.Errorf("%d wrong answers (%s)", total, strings.Join(rows, ", ")))
	}
	for _, p := range procs {
		select {
		case <-p.done:
			errs = append(errs, fmt.Errorf("%s ended during the run: %v\n%s", p.name, p.err, p.tail()))
		default:
		}
	}
	return errors.Join(errs...)
}

// removeUnlessKept removes a directory of the run, or with -keep says where it stays.
func removeUnlessKept(o options, dir string) {
	if o.keep {
		logf("kept %s (emfa's logs and databases; remove it when done)", dir)
		return
	}
	os.RemoveAll(dir)
}

// memQuiet is how long the memory measurement lets the server rest before it reads RSS:
// emfa returns memory to the OS at the start of a quiet spell (cmd/emfa/trim.go), a second
// or two after its last request.
const memQuiet = 3 * time.Second

// connsQuiet is how long the idle connections rest before RSS is read: emfa parks a
// keep-alive connection once it has waited a second for its next request
// (internal/connpark), which frees its goroutine and buffers, and the quiet-spell trim then
// returns what they held. The last park is a second after the last connection's request,
// and the trim one to two seconds after that.
const connsQuiet = connpark.After + memQuiet + time.Second

func (o options) selected(name string) bool { return o.only == nil || o.only.MatchString(name) }

func totpScenario(store string) string { return "TOTP validate · emfa " + store }

func pacedScenario(store string, rate int) string {
	return fmt.Sprintf("%s · paced %d/s", totpScenario(store), rate)
}

// once sends one request of s and checks its answer.
func (s *scenario) once(ctx context.Context) error {
	req, done, err := s.build(ctx, 0)
	if err != nil {
		return err
	}
	if done != nil {
		defer done()
	}
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return s.check(resp.StatusCode, body)
}
