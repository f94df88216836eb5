package main

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/transcript"
)

// orderedFactors has four factors of alice's, of two flows in turn, and an enrollments
// call that lists them in the order the setup creates them: emfa lists a user's factors
// oldest first, as a recording writes them.
const orderedFactors = `name: four factors listed in the order they were created
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}
  delivery:
    sms: {type: log}
  providers:
    - name: Built-in factors
      credentialPrefix: emfa
      capabilities: [totp, smsotp]
      builtin:
        smsotp: {sender: sms}
setup:
  - user: alice
  - factor: {type: totp, user: alice, name: one, as: f1}
  - factor: {type: smsotp, user: alice, phone: "+15551230121", name: two, as: f2}
  - factor: {type: totp, user: alice, name: three, as: f3}
  - factor: {type: smsotp, user: alice, phone: "+15551230123", name: four, as: f4}
steps:
  - name: enrollments
    call: {resource: enrollments, body: {username: alice}}
    expect:
      body:
        - {capability: totp, id: "${f1}", attributes: {authExecutionFlow: validate, deviceName: one}}
        - {capability: smsotp, id: "${f2}", attributes: {authExecutionFlow: init_then_validate, deviceName: two, deliveryAddress: <any>}}
        - {capability: totp, id: "${f3}", attributes: {authExecutionFlow: validate, deviceName: three}}
        - {capability: smsotp, id: "${f4}", attributes: {authExecutionFlow: init_then_validate, deviceName: four, deliveryAddress: <any>}}
`

// Replay creates a transcript's factors in its order, each at its own instant, so an
// enrollments call lists them as recorded on every run — not in the order of the random
// ids they get when they share one instant.
func TestReplayFactorsInTranscriptOrder(t *testing.T) {
	tr, err := transcript.Parse([]byte(orderedFactors))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		logs := &lockedLog{}
		if err := transcript.Run(context.Background(), tr, inProcess(logs, "")); err != nil {
			t.Fatalf("run %d: %v\n--- emfa log:\n%s", i+1, err, logs)
		}
	}
}

// writeTranscript writes text as a transcript file of its own and returns its path.
func writeTranscript(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A pipeline tells "emfa answered differently" (exit 1) from "a transcript could not be
// read or run" (exit 2, as for any usage error of emfa's), whatever the order of the files.
func TestReplayExitCodes(t *testing.T) {
	good := "../../testdata/transcripts/contract.yaml"
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	mismatch := writeTranscript(t, "mismatch.yaml", strings.Replace(string(data), "expect: {body: {status: SUCCESS}}", "expect: {body: {status: FAILED}}", 1))
	badYAML := writeTranscript(t, "bad.yaml", "name: x\nsteps: [\n")
	badConfig := writeTranscript(t, "badconfig.yaml", "name: x\nconfig: |\n  server:\n    listen: [no]\nsteps: [{call: {resource: test, method: GET}}]\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, c := range []struct {
		files []string
		code  int
		out   []string
	}{
		{[]string{good}, 0, []string{"ok   " + good, "1 passed, 0 failed\n"}},
		{[]string{good, mismatch}, 1, []string{"FAIL " + mismatch, "1 passed, 1 failed\n"}},
		{[]string{badYAML, good}, 2, []string{"ERROR " + badYAML, "1 passed, 0 failed, 1 not run\n"}},
		{[]string{missing}, 2, []string{"ERROR " + missing, "0 passed, 0 failed, 1 not run\n"}},
		{[]string{mismatch, badConfig}, 2, []string{"FAIL " + mismatch, "ERROR " + badConfig, "0 passed, 1 failed, 1 not run\n"}},
	} {
		code, out, errOut := emfa(t, append([]string{"replay"}, c.files...)...)
		if code != c.code {
			t.Errorf("replay %v: exit %d, want %d\n%s%s", c.files, code, c.code, out, errOut)
		}
		for _, want := range c.out {
			if !strings.Contains(out, want) {
				t.Errorf("replay %v: no %q in\n%s", c.files, want, out)
			}
		}
	}
}

// A typo in a transcript's inline configuration is reported at its line in the
// transcript file, with the configuration's "did you mean".
func TestReplayInlineConfigErrorAtFileLine(t *testing.T) {
	path := writeTranscript(t, "typo.yaml", `name: a typo in the configuration
description: the typo is on line 7 of this file
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}

    requestTimout: 5s
  providers:
    - {name: Built-in factors, credentialPrefix: emfa, capabilities: [totp]}
steps:
  - call: {resource: test, method: GET}
`)
	_, out, _ := emfa(t, "replay", path)
	want := path + `:7: server: unknown key "requestTimout" (did you mean "requestTimeout"?)`
	if !strings.Contains(out, want) {
		t.Errorf("want %q in\n%s", want, out)
	}
}

// A vendor call the transcript expects but emfa did not make is reported with what emfa
// answered instead, which says why it made none.
func TestReplayNoVendorCallShowsAnswer(t *testing.T) {
	path := writeTranscript(t, "nocall.yaml", `name: a vendor call not made
config: |
  server:
    auth: {basic: {username: verify, password: replay-password}}
  providers:
    - name: Built-in factors
      credentialPrefix: emfa
      capabilities: [totp]
steps:
  - call: {resource: validate, body: {capability: totp, id: f1, attributes: {username: alice, passvalue: "123456"}}}
    vendor:
      - request: {method: POST, path: /check}
        response: {body: {ok: true}}
    expect: {body: {status: SUCCESS}}
`)
	code, out, _ := emfa(t, "replay", path)
	want := `vendor[0]: want a call POST /check, got no call (emfa answered 200 {"status":"FAILED"})`
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, want 1 and %q in\n%s", code, want, out)
	}
}

// --junit writes one testcase per transcript, for a CI system to read: a mismatch is a
// failure, a transcript not run an error.
func TestReplayJUnit(t *testing.T) {
	good := "../../testdata/transcripts/contract.yaml"
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	mismatch := writeTranscript(t, "mismatch.yaml", strings.Replace(string(data), "expect: {body: {status: SUCCESS}}", "expect: {body: {status: FAILED}}", 1))
	bad := writeTranscript(t, "bad.yaml", "")
	report := filepath.Join(t.TempDir(), "junit.xml")
	code, out, errOut := emfa(t, "replay", "--junit", report, good, mismatch, bad)
	if code != 2 {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Errors   int    `xml:"errors,attr"`
			Cases    []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				Failure   *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
				Error *struct {
					Message string `xml:"message,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &suites); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if len(suites.Suites) != 1 {
		t.Fatalf("suites: %s", raw)
	}
	s := suites.Suites[0]
	if s.Tests != 3 || s.Failures != 1 || s.Errors != 1 || len(s.Cases) != 3 {
		t.Fatalf("counts: %s", raw)
	}
	if c := s.Cases[0]; c.Classname != good || c.Failure != nil || c.Error != nil {
		t.Errorf("passing case: %+v", c)
	}
	if c := s.Cases[1]; c.Classname != mismatch || c.Failure == nil || !strings.Contains(c.Failure.Message, `body.status: want "FAILED", got "SUCCESS"`) {
		t.Errorf("failing case: %+v\n%s", c, raw)
	}
	if c := s.Cases[2]; c.Classname != bad || c.Error == nil || !strings.Contains(c.Error.Message, "empty") {
		t.Errorf("case not run: %+v\n%s", c, raw)
	}
}
