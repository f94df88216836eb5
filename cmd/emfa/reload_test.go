package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emfa/emfa/internal/testwait"
	"github.com/emfa/emfa/provider"
)

// reloadingServe runs serve in-process on cfg with a reload trigger: reload() asks for
// one and returns its outcome.
func reloadingServe(t *testing.T, cfg string) (base string, logs *lockedLog, reload func() error) {
	t.Helper()
	return (&cli{}).reloadingServe(t, cfg)
}

// reloadingServe is reloadingServe on c's clock, serve given extra arguments too.
func (c *cli) reloadingServe(t *testing.T, cfg string, extra ...string) (base string, logs *lockedLog, reload func() error) {
	t.Helper()
	base, logs, reload, _ = c.serveReloading(t, cfg, extra...)
	return base, logs, reload
}

// serveReloading is reloadingServe with stop, which ends serve before the test does (its
// traces flushed, its recordings written); the test's cleanup stops it otherwise.
func (c *cli) serveReloading(t *testing.T, cfg string, extra ...string) (base string, logs *lockedLog, reload func() error, stop func()) {
	t.Helper()
	trigger := make(chan struct{})
	outcome := make(chan error)
	addrc := make(chan string, 1)
	logs = &lockedLog{}
	d := c.deps(io.Discard, logs)
	d.listening = func(addr string) { addrc <- addr }
	d.reload = trigger
	d.reloaded = func(err error) { outcome <- err }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	args := []string{"serve"}
	if cfg != "" { // "": the embedded default
		args = append(args, "--config", cfg)
	}
	go func() { done <- run(ctx, append(args, extra...), d) }()
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d:\n%s", code, logs)
	case <-time.After(testwait.Limit):
		cancel()
		t.Fatalf("waited %v for serve to listen or exit: never\n%s", testwait.Limit, logs)
	}
	stop = sync.OnceFunc(func() {
		cancel()
		if code := testwait.Recv(t, "serve to end its graceful shutdown", done); code != 0 {
			t.Errorf("serve exited %d:\n%s", code, logs)
		}
	})
	t.Cleanup(stop)
	return base, logs, func() error {
		trigger <- struct{}{}
		return <-outcome
	}, stop
}

// replaceFile writes data to path as an editor that renames does: a reload never reads
// half a file.
func replaceFile(t *testing.T, path, data string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".next.yaml")
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Fifty reloads under parallel calls fail no request; the last configuration is the one
// served; a bad file keeps the running configuration and logs every error with its path;
// a setting that cannot change live is a warning.
func TestReloadUnderLoad(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg)
	original, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The same file with hotp exposed too (its section compiled) and totp's window changed.
	variant := strings.Replace(string(original), "capabilities: [totp]", "capabilities: [totp, hotp]", 1)
	variant = strings.Replace(variant, "totp: {window: 1}", "totp: {window: 2}\n      hotp: {window: 5}", 1)
	if variant == string(original) {
		t.Fatal("variant equals the original")
	}
	base, logs, reload := reloadingServe(t, cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}

	stop := make(chan struct{})
	var calls, failures atomic.Int64
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resource, body := "enrollments", `{"username":"alice"}`
				if w%2 == 1 {
					resource, body = "validate", `{"capability":"totp","id":"nope","attributes":{"username":"alice","passvalue":"123456"}}`
				}
				req, _ := http.NewRequest("POST", sim.base+"/"+resource, strings.NewReader(body))
				req.SetBasicAuth("verify", "sim-password-0123")
				resp, err := client.Do(req)
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					t.Errorf("%s during reloads: %v", resource, err)
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(string(data), map[bool]string{true: "[", false: `{"status":"FAILED"`}[resource == "enrollments"]) {
					failures.Add(1)
					t.Errorf("%s during reloads: %d %s", resource, resp.StatusCode, data)
				}
			}
		})
	}
	for i := range 50 {
		next := variant
		if i%2 == 1 {
			next = string(original)
		}
		replaceFile(t, cfg, next)
		before := calls.Load()
		if err := reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		// Let at least one call land on this snapshot before the next swap, however slow
		// the machine (the race detector, a loaded CI): the calls interleave with every
		// reload, not only with the first few.
		for deadline := time.Now().Add(10 * time.Second); calls.Load() == before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()
	if calls.Load() < 50 || failures.Load() > 0 {
		t.Errorf("%d calls during 50 reloads, %d failed", calls.Load(), failures.Load())
	}

	// A file with an unknown key and a bad value: the reload fails, both errors are
	// logged with where they are, and the running configuration (the original) stays.
	bad := strings.Replace(string(original), "capabilities: [totp]", "capabilities: [totp]\n    challengeLifetime: banana\n    colour: red", 1)
	replaceFile(t, cfg, bad)
	if err := reload(); err == nil {
		t.Fatal("a bad file was reloaded")
	}
	for _, want := range []string{`colour`, `challengeLifetime`, "reload failed: the running configuration is kept", filepath.Base(cfg)} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the failed reload's log lacks %q:\n%s", want, grepLines(logs.String(), "reload"))
		}
	}
	if list := sim.enrollments("alice"); len(list) != 1 || list[0].Capability != "totp" {
		t.Errorf("after a failed reload: %+v", list)
	}

	// A new listen address is kept for the next restart, and said so; the rest applies.
	moved := strings.Replace(string(original), `listen: "127.0.0.1:0"`, `listen: "127.0.0.1:1"`, 1)
	moved = strings.Replace(moved, "capabilities: [totp]", "capabilities: [totp]\n    enabled: false", 1)
	replaceFile(t, cfg, moved)
	if err := reload(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "server.listen changed") {
		t.Errorf("no warning for server.listen:\n%s", grepLines(logs.String(), "reload"))
	}
	if list := sim.enrollments("alice"); len(list) != 0 {
		t.Errorf("the disabled provider still lists factors: %+v", list)
	}
}

// TestReloadRotatesSyncCredentials: a reload applies a rotated SCIM token at once (the old
// one is refused, the new one taken), while the sync sources and their queue stay.
func TestReloadRotatesSyncCredentials(t *testing.T) {
	const oldTok, newTok = "old-scim-token-0123456789abcdef0123", "new-scim-token-0123456789abcdef0123"
	cfg := writeTestConfig(t, "", `sync:
  scim: {enabled: true, token: "`+oldTok+`"}
providers:
  - name: A
    credentialPrefix: emfa
    capabilities: [totp]
`)
	base, logs, reload := reloadingServe(t, cfg)
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", base+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(oldTok); c != 200 {
		t.Fatalf("before the reload, the old token: %d", c)
	}
	replaceFile(t, cfg, strings.Replace(mustRead(t, cfg), oldTok, newTok, 1))
	if err := reload(); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if o, n := get(oldTok), get(newTok); o != 401 || n != 200 {
		t.Errorf("after a reload rotating sync.scim.token: old token %d (want 401), new token %d (want 200)\n%s", o, n, grepLines(logs.String(), "reload"))
	}
	if strings.Contains(logs.String(), "sync changed") {
		t.Errorf("a rotated token reported as a change that cannot apply:\n%s", grepLines(logs.String(), "reload"))
	}
}

// TestReloadErrorNamesFile: an error found while building the reloaded configuration (a
// transform that does not compile) is logged with its file, as every reload error is.
func TestReloadErrorNamesFile(t *testing.T) {
	cfg := writeConfig(t, "")
	_, logs, reload := reloadingServe(t, cfg)
	replaceFile(t, cfg, mustRead(t, cfg)+`  - name: Vendor
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
`)
	if err := reload(); err == nil {
		t.Fatal("a transform that does not compile was reloaded")
	}
	want := "reload: " + cfg + ":29: providers[1] (vend).remote.resources.initiate.transform.outgoing"
	if !strings.Contains(logs.String(), want) {
		t.Errorf("the failed reload's log lacks %q:\n%s", want, grepLines(logs.String(), "reload"))
	}
}

// countingCloser counts its closes.
type countingCloser struct{ n *atomic.Int32 }

func (c countingCloser) Close() error { c.n.Add(1); return nil }

// TestReloadsWithinAGraceCloseEveryRetiredSnapshot: the engines of each replaced
// configuration close once its grace has passed, however many reloads come within it, and
// those left at serve's end close then. Before, a reload within the grace stopped the
// earlier snapshot's timer while pruning the list, and its engines (pooled connections,
// token sources) were never closed. In a synctest bubble: the graces pass on its clock.
func TestReloadsWithinAGraceCloseEveryRetiredSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &env{}
		snap := func() (*snapshot, *atomic.Int32) {
			n := new(atomic.Int32)
			return &snapshot{env: &env{closers: []provider.Closer{countingCloser{n}}}}, n
		}
		l := &live{}
		l.swap(&snapshot{env: base}, base, 0)
		s1, n1 := snap()
		s2, n2 := snap()
		s3, n3 := snap()
		s4, n4 := snap()
		const grace = 15 * time.Second
		l.swap(s1, base, grace)
		l.swap(s2, base, grace) // s1 retired
		time.Sleep(grace / 3)
		l.swap(s3, base, grace) // s2 retired, within s1's grace
		time.Sleep(grace)
		synctest.Wait()
		if n1.Load() != 1 || n2.Load() != 1 {
			t.Errorf("after the graces: snapshot 1 closed %d times, 2 %d times; want 1 and 1", n1.Load(), n2.Load())
		}
		l.swap(s4, base, grace) // s3 retired, its grace not passed at serve's end
		l.closeAll(base)
		if n1.Load() != 1 || n2.Load() != 1 || n3.Load() != 1 || n4.Load() != 1 {
			t.Errorf("after serve's end: closed %d, %d, %d, %d times; want once each", n1.Load(), n2.Load(), n3.Load(), n4.Load())
		}
	})
}
