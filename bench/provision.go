package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Provisioning through emfa's own operator surface: the admin API of a short-lived
// `emfa serve` on the harness's configuration and store, with a write token from `emfa
// tokens create`. Users come from POST /users; factors from POST /users/{user}/factors
// with a seed the harness knows (params.secret, params.period; activation immediate, as
// `emfa factors add totp --secret` does), whose answer carries the factor's id. `emfa
// import` cannot do it: it pre-provisions only smsotp, emailotp and voicecall, never a
// TOTP seed. One CLI process per factor took minutes on a loaded machine; a request costs
// some 2 ms of server CPU, a quarter of it the QR code PNG the answer carries and the
// harness ignores. The provisioning server stops and its token is revoked before the
// measured server starts, so that its start-up and memory are a fresh process's.

const (
	provisionParallel = 8
	provisionToken    = "bench-provision"
)

// benchSeed is factor i's TOTP seed: 20 bytes, different for every factor, the same on
// every run.
func benchSeed(i int) []byte {
	s := sha1.Sum([]byte("emfa-bench-totp-" + strconv.Itoa(i)))
	return s[:]
}

func benchUser(i int) string { return fmt.Sprintf("bench-%03d", i) }

// provision creates users and factors (spread over the users round robin) with the given
// period, and returns the factors.
func provision(ctx context.Context, emfa, config string, env []string, users, factors, period int) (_ []*totpFactor, err error) {
	runCLI := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, emfa, append(args, "--config", config)...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return nil, fmt.Errorf("emfa %v: %v: %s", args, err, ee.Stderr)
			}
			return nil, fmt.Errorf("emfa %v: %w", args, err)
		}
		return out, nil
	}
	// The token's command applies the migrations before the server reads the store.
	out, err := runCLI("tokens", "create", "--name", provisionToken, "--scope", "write")
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(string(out))
	defer func() {
		if _, rerr := runCLI("tokens", "revoke", provisionToken); rerr != nil && err == nil {
			err = rerr
		}
	}()
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(emfa, "serve", "--config", config)
	cmd.Env = append(slices.Clone(env), "EMFA_SERVER_LISTEN="+addr)
	p, err := startProc("emfa-provision", cmd, filepath.Join(filepath.Dir(config), "emfa-provision.log"))
	if err != nil {
		return nil, err
	}
	defer p.stop(5 * time.Second)
	base := "http://" + addr
	if _, err := waitReady(ctx, p, base, time.Now(), nil); err != nil {
		return nil, err
	}

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: provisionParallel}}
	post := func(path string, body any, answer any) error {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/admin/v1"+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("POST /admin/v1%s: %w", path, err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return fmt.Errorf("POST /admin/v1%s: %w", path, err)
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /admin/v1%s: HTTP %d: %s", path, resp.StatusCode, got)
		}
		if answer == nil {
			return nil
		}
		if err := json.Unmarshal(got, answer); err != nil {
			return fmt.Errorf("POST /admin/v1%s: %w in %q", path, err, got)
		}
		return nil
	}
	if err := parallel(provisionParallel, users, func(i int) error {
		return post("/users", map[string]string{"name": benchUser(i)}, nil)
	}); err != nil {
		return nil, err
	}
	fs := make([]*totpFactor, factors)
	err = parallel(provisionParallel, factors, func(i int) error {
		seed := benchSeed(i)
		user := benchUser(i % users)
		var enrolled struct {
			Factor struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"factor"`
		}
		if err := post("/users/"+url.PathEscape(user)+"/factors", map[string]any{
			"type": "totp", "activation": "immediate",
			"params": map[string]any{"secret": base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed), "period": period},
		}, &enrolled); err != nil {
			return err
		}
		if enrolled.Factor.ID == "" || enrolled.Factor.State != "active" {
			return fmt.Errorf("enroll factor %d of %s: id %q, state %q, want an active factor", i, user, enrolled.Factor.ID, enrolled.Factor.State)
		}
		fs[i] = &totpFactor{id: enrolled.Factor.ID, user: user, seed: seed, last: -1}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fs, nil
}

// parallel runs job(0..count-1) on n goroutines and returns the first error; after an
// error no new job starts.
func parallel(n, count int, job func(i int) error) error {
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				mu.Lock()
				stop := first != nil
				mu.Unlock()
				if i >= count || stop {
					return
				}
				if err := job(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
