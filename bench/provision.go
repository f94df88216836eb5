package main

import (
	"context"
	"crypto/sha1"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
)

// Provisioning through emfa's own CLI, as an operator would: `emfa users add` and
// `emfa factors add totp --secret` (a seed the harness knows), whose JSON answer carries
// the factor's id. One process per factor costs some 25 ms, so a few run at once.

const provisionParallel = 4

// benchSeed is factor i's TOTP seed: 20 bytes, different for every factor, the same on
// every run.
func benchSeed(i int) []byte {
	s := sha1.Sum([]byte("emfa-bench-totp-" + strconv.Itoa(i)))
	return s[:]
}

func benchUser(i int) string { return fmt.Sprintf("bench-%03d", i) }

// provision creates users and factors (spread over the users round robin) with the given
// period, and returns the factors.
func provision(ctx context.Context, emfa, config string, env []string, users, factors, period int) ([]*totpFactor, error) {
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
	// The first command applies the migrations; the rest may run side by side.
	if _, err := runCLI("users", "add", benchUser(0)); err != nil {
		return nil, err
	}
	if err := parallel(provisionParallel, users-1, func(i int) error {
		_, err := runCLI("users", "add", benchUser(i+1))
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]*totpFactor, factors)
	err := parallel(provisionParallel, factors, func(i int) error {
		seed := benchSeed(i)
		user := benchUser(i % users)
		b, err := runCLI("factors", "add", "totp", "--user", user, "--period", strconv.Itoa(period),
			"--secret", base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed))
		if err != nil {
			return err
		}
		var f struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &f); err != nil || f.ID == "" {
			return fmt.Errorf("emfa factors add: no id in %q", b)
		}
		out[i] = &totpFactor{id: f.ID, user: user, seed: seed, last: -1}
		return nil
	})
	return out, err
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
