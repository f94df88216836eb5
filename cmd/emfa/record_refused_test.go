package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/verifyfiles"
	"github.com/emfa/emfa/transcript"
)

// A recorded refusal of a right code — a TOTP code used twice, the right code while the
// factor is locked — replays the right code, so that the replay fails when emfa accepts
// it: here, with the steps that made the refusal (the first use, the wrong codes) taken
// out, as a build without replay protection or lockout would answer. A wrong code stays
// <redacted>.
func TestRecordedRefusalOfARightCodeFailsItsReplayWhenAccepted(t *testing.T) {
	const cfg = "../../testdata/config/all-factors.yaml"
	recordDir, app := recordEnv(t, nil)
	clk := app.clock
	for _, u := range []string{"alice", "bob"} {
		app.must(t, "users", "add", u, "--config", cfg)
	}
	add := func(user string) string {
		out := app.must(t, "factors", "add", "totp", "--user", user, "--secret", recordSeed, "--config", cfg)
		_, rest, _ := strings.Cut(out, `"id":`)
		id, _, _ := strings.Cut(strings.TrimSpace(rest), ",")
		return strings.Trim(strings.TrimSpace(id), `"`)
	}
	aliceTOTP, bobTOTP := add("alice"), add("bob")
	base, _, stop := app.serve(t, "--config", cfg, "--record", recordDir)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	totpNow := func() string {
		return strings.TrimSpace(app.must(t, "totp", "code", "--secret", recordSeed, "--time", strconv.FormatInt(clk.Now().Unix(), 10)))
	}
	code := totpNow()
	sim.want("totp", sim.step("validate", "totp", aliceTOTP, "alice", "", code), "SUCCESS")
	sim.want("totp reused", sim.step("validate", "totp", aliceTOTP, "alice", "", code), "FAILED")
	for i := range 5 {
		sim.want(fmt.Sprintf("wrong %d", i+1), sim.step("validate", "totp", bobTOTP, "bob", "", wrongTOTP(t, recordSeed, clk.Now())), "FAILED")
	}
	sim.want("locked", sim.step("validate", "totp", bobTOTP, "bob", "", totpNow()), "FAILED")
	stop()

	files, _ := filepath.Glob(filepath.Join(recordDir, "*.yaml"))
	byUser := map[string]*transcript.Transcript{}
	for _, path := range files {
		data, _ := os.ReadFile(path)
		if strings.Contains(string(data), recordSeed) {
			t.Fatalf("%s holds the seed", path)
		}
		fixed := strings.ReplaceAll(string(data), "secret: <redacted>", "secret: "+recordSeed)
		fixed = strings.ReplaceAll(fixed, "otp(<redacted>,", "otp("+recordSeed+",")
		tr, err := transcript.Parse([]byte(fixed))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, u := range []string{"alice", "bob"} {
			if strings.HasSuffix(tr.Name, " for "+u) {
				byUser[u] = tr
			}
		}
	}
	run := func(tr *transcript.Transcript) error {
		return transcript.Run(context.Background(), tr, inProcess(&lockedLog{}, verifyfiles.Dir()))
	}
	// validates are the indexes of the transcript's validate calls.
	validates := func(tr *transcript.Transcript) []int {
		var out []int
		for i, s := range tr.Steps {
			if s.Call != nil && s.Call.Resource == "validate" {
				out = append(out, i)
			}
		}
		return out
	}
	passvalue := func(s transcript.Step) string {
		return fmt.Sprint(s.Call.Body.(map[string]any)["attributes"].(map[string]any)["passvalue"])
	}
	for _, c := range []struct {
		user      string
		validates int
		drop      func(v []int) []int // the steps that made the last refusal
	}{
		{"alice", 2, func(v []int) []int { return v[:1] }},
		{"bob", 6, func(v []int) []int { return v[:5] }},
	} {
		tr := byUser[c.user]
		if tr == nil {
			t.Fatalf("no transcript for %s", c.user)
		}
		v := validates(tr)
		if len(v) != c.validates {
			t.Fatalf("%s: %d validates, want %d", c.user, len(v), c.validates)
		}
		if err := run(tr); err != nil {
			t.Errorf("%s: replays red: %v", c.user, err)
		}
		last := tr.Steps[v[len(v)-1]]
		if !strings.HasPrefix(passvalue(last), "${totp(") {
			t.Errorf("%s: the refused right code is recorded as %q, not as a ${totp(…)}", c.user, passvalue(last))
		}
		if c.user == "bob" && passvalue(tr.Steps[v[0]]) != "<redacted>" {
			t.Errorf("bob: a wrong code is recorded as %q, want <redacted>", passvalue(tr.Steps[v[0]]))
		}
		// As a build that lost the protection answers: the refusal must fail the replay.
		dropped := c.drop(v)
		var steps []transcript.Step
		for i, s := range tr.Steps {
			if !slices.Contains(dropped, i) {
				steps = append(steps, s)
			}
		}
		tr.Steps = steps
		err := run(tr)
		if err == nil || !strings.Contains(err.Error(), "SUCCESS") {
			t.Errorf("%s: the refusal, answered SUCCESS, replays %v; want a mismatch", c.user, err)
		}
	}
}
