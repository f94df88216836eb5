package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider/builtin"
)

// This file holds the helpers every test of the command shares: running it in-process or
// as a process, serving, one fake clock.

// TestMain lets a test run the test binary itself as the emfa command (EMFA_TEST_MAIN=1),
// so process-level tests (SIGKILL, signals) need no separate build.
func TestMain(m *testing.M) {
	switch os.Getenv("EMFA_TEST_MAIN") {
	case "1":
		main()
		return
	case "repeat":
		// Run the same command over and over until killed (the SIGKILL test).
		for run(context.Background(), os.Args[1:], processDeps()) == 0 {
		}
		os.Exit(1)
	}
	// A command run without --config uses the embedded default, whose data directory
	// would otherwise land in this package's folder.
	dir, err := os.MkdirTemp("", "emfa-test-data-")
	if err != nil {
		panic(err)
	}
	os.Setenv("EMFA_DATA_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cli runs emfa in-process: every command it runs, serve included, on its clock and
// reporting to its hooks. The zero value runs on the real clock.
type cli struct {
	clock *manualClock // nil: the real clock
	swept func(builtin.Swept, error)
	// traces, when set, receives serve's spans (tracing.endpoint must still be set).
	traces sdktrace.SpanExporter
}

// fakeCLI is a cli on a fake clock, starting now, that only Advance moves.
func fakeCLI() *cli { return &cli{clock: &manualClock{t: time.Now()}} }

func (c *cli) deps(stdout, stderr io.Writer) deps {
	d := deps{stdout: stdout, stderr: stderr, now: time.Now, swept: c.swept, traceExporter: c.traces}
	if c.clock != nil {
		d.now = c.clock.Now
	}
	return d
}

// run runs the command and returns its exit code and output.
func (c *cli) run(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, c.deps(&stdout, &stderr))
	return code, stdout.String(), stderr.String()
}

// must runs a command that must succeed and returns its output.
func (c *cli) must(t testing.TB, args ...string) string {
	t.Helper()
	code, out, errOut := c.run(t, args...)
	if code != 0 {
		t.Fatalf("emfa %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// serve runs `emfa serve args...` until the test ends; it returns the base URL, the
// captured log, and stop, which shuts it down as SIGTERM does and waits.
func (c *cli) serve(t testing.TB, args ...string) (string, *lockedLog, func()) {
	t.Helper()
	addrc := make(chan string, 1)
	logs := &lockedLog{}
	d := c.deps(io.Discard, logs)
	d.listening = func(addr string) { addrc <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), d) }()
	var addr string
	select {
	case addr = <-addrc:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before listening:\n%s", code, logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel() // what SIGTERM does: graceful shutdown
			if code := testwait.Recv(t, "serve to end its graceful shutdown", done); code != 0 {
				t.Errorf("serve exited %d after shutdown:\n%s", code, logs)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + addr, logs, stop
}

// startServe serves the configuration at cfgPath until the test ends.
func (c *cli) startServe(t testing.TB, cfgPath string) (string, *lockedLog) {
	t.Helper()
	base, logs, _ := c.serve(t, "--config", cfgPath)
	return base, logs
}

// emfa runs the command in-process on the real clock.
func emfa(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	return (&cli{}).run(t, args...)
}

// mustEmfa runs a command that must succeed, on the real clock.
func mustEmfa(t testing.TB, args ...string) string {
	t.Helper()
	return (&cli{}).must(t, args...)
}

// startServe serves cfgPath on the real clock until the test ends.
func startServe(t testing.TB, cfgPath string) (string, *lockedLog) {
	t.Helper()
	return (&cli{}).startServe(t, cfgPath)
}

// startServeArgs is startServe with any serve arguments.
func startServeArgs(t testing.TB, args ...string) (string, *lockedLog, func()) {
	t.Helper()
	return (&cli{}).serve(t, args...)
}

// openTestEnv opens the configuration at path as serve does (real senders), for a test
// that looks into the store or builds a handler itself.
func openTestEnv(tb testing.TB, path string) *env {
	tb.Helper()
	d := &deps{stderr: io.Discard, now: time.Now}
	e, err := d.openEnv(context.Background(), storeOptions{config: path}, forServe)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// selfCommand runs the test binary as `emfa args...`.
func selfCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "EMFA_TEST_MAIN=1")
	return cmd
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
