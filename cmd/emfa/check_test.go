package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// emfa check without the secrets in the environment warns about each unset ${NAME}, with
// its line, and checks everything else; --strict makes them errors (issue 14, item 2).
func TestCheckWithoutSecrets(t *testing.T) {
	for _, name := range []string{"DUO_API_URL", "DUO_IKEY", "DUO_SKEY", "EMFA_VERIFY_PASSWORD", "EMFA_ENCRYPTION_KEY"} {
		t.Setenv(name, "")
	}
	const duo = "../../testdata/config/duo.yaml"
	code, out, errOut := emfa(t, "check", "--config", duo)
	if code != 0 || !strings.Contains(out, "12 transforms compiled") ||
		!strings.Contains(errOut, "warning: "+duo+":33: providers[0].remote.authentication.header.values[1].value: environment variable DUO_SKEY is not set") {
		t.Errorf("check: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = emfa(t, "check", "--strict", "--config", duo)
	if code != 1 || !strings.Contains(errOut, duo+":24: providers[0].remote.urls[0]: environment variable DUO_API_URL is not set") {
		t.Errorf("check --strict: exit %d\n%s", code, errOut)
	}
}

// Every problem at once, each with file and line: a typo does not hide the rest, a
// duration needs a unit, a port must be one, and a builtin section reports the same way.
func TestCheckReportsEverythingWithLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	os.WriteFile(path, []byte(`server:
  listen: 127.0.0.1:99999
  requestTimeout: 10
  auth:
    basic: {username: verify, pasword: x}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
    builtin:
      totp: {perod: 30}
      lockout: {duration: 900}
`), 0o600)
	code, _, errOut := emfa(t, "check", "--config", path)
	for _, want := range []string{
		path + `:2: server.listen: the port is not a number from 0 to 65535`,
		path + `:3: server.requestTimeout: 10 has no unit`,
		path + `:5: server.auth.basic: unknown key "pasword" (did you mean "password"?)`,
		path + `:12: providers[0].builtin.totp: unknown key "perod" (did you mean "period"?)`,
		path + `:13: providers[0].builtin.lockout.duration: 900 has no unit`,
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("missing %q (exit %d):\n%s", want, code, errOut)
		}
	}
	// The builtin section is checked with the rest, and alone.
	data, _ := os.ReadFile(path)
	_, providers, _ := strings.Cut(string(data), "storage:")
	os.WriteFile(path, []byte("server: {auth: {basic: {username: verify, password: a-strong-password-0123}}}\nstorage:"+providers), 0o600)
	code, _, errOut = emfa(t, "check", "--config", path)
	for _, want := range []string{
		path + `:8: providers[0].builtin.totp: unknown key "perod" (did you mean "period"?)`,
		path + `:9: providers[0].builtin.lockout.duration: 900 has no unit`,
	} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("missing %q (exit %d):\n%s", want, code, errOut)
		}
	}
}

// A command that does not use a secret does not require it: managing users needs the
// store, not the SMS gateway's token.
func TestCommandsNeedOnlyTheirSecrets(t *testing.T) {
	t.Setenv("TWILIO_TOKEN", "")
	path := writeTestConfig(t, "", `delivery:
  sms: {type: twilio, accountSid: AC00000000000000000000000000000000, authToken: "${TWILIO_TOKEN}", from: "+15550001111"}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp, smsotp]
    builtin:
      smsotp: {sender: sms}
`)
	mustEmfa(t, "users", "add", "alice", "--config", path)
	if out := mustEmfa(t, "users", "list", "--config", path); !strings.Contains(out, "alice") {
		t.Errorf("users list: %s", out)
	}
	mustEmfa(t, "factors", "add", "smsotp", "--user", "alice", "--phone", "+15551230123", "--config", path)
	if code, _, errOut := emfa(t, "serve", "--config", path); code != 1 || !strings.Contains(errOut, "TWILIO_TOKEN is not set") {
		t.Errorf("serve without the token: exit %d\n%s", code, errOut)
	}
}

// The complete example's SQLite file lives in a folder a first run may lack: emfa makes it,
// or names the folder it could not make (issue 14, item 4).
func TestSQLiteFolderOnFirstRun(t *testing.T) {
	dir := t.TempDir()
	path := writeTestConfig(t, `driver: sqlite
  dsn: "file:`+filepath.Join(dir, "var", "lib", "emfa", "emfa.db")+`"`, "providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]\n")
	mustEmfa(t, "users", "add", "alice", "--config", path)

	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o600)
	path = writeTestConfig(t, `driver: sqlite
  dsn: "file:`+filepath.Join(blocker, "emfa", "emfa.db")+`"`, "providers: [{name: A, credentialPrefix: a, capabilities: [totp]}]\n")
	if code, _, errOut := emfa(t, "users", "add", "alice", "--config", path); code != 1 || !strings.Contains(errOut, filepath.Join(blocker, "emfa")) {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// testdata/config/all-factors.yaml, for trying every built-in factor, passes emfa check.
func TestAllFactorsConfig(t *testing.T) {
	t.Setenv("EMFA_VERIFY_PASSWORD", "a-strong-password-0123")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	out := mustEmfa(t, "check", "--strict", "--config", "../../testdata/config/all-factors.yaml")
	if !strings.Contains(out, "7 capabilities") {
		t.Errorf("check: %s", out)
	}
}

// A DSN serve could not read is found by check, with its line and without its password.
func TestCheckReadsTheDSN(t *testing.T) {
	for _, c := range []struct{ storage, want string }{
		{`{driver: postgres, dsn: "postgres://emfa:SECRET%ZZ@db:5432/emfa", encryptionKey: "` + testEncryptionKey + `"}`,
			"storage.dsn: cannot parse `postgres://emfa:xxxxx@db:5432/emfa`"},
		{`{driver: sqlite, dsn: "file:emfa.db?mode=%zz", encryptionKey: "` + testEncryptionKey + `"}`,
			"storage.dsn: sqlite: dsn query: invalid URL escape"},
	} {
		path := filepath.Join(t.TempDir(), "emfa.yaml")
		os.WriteFile(path, []byte("server: {auth: {basic: {username: verify, password: a-strong-password-0123}}}\nstorage: "+c.storage+`
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp], engine: builtin}
`), 0o600)
		code, out, errOut := emfa(t, "check", "--config", path)
		if code != 1 || !strings.Contains(errOut, path+":2: "+c.want) || strings.Contains(errOut, "SECRET") {
			t.Errorf("check: exit %d, want 1 and %q without the password\n%s%s", code, c.want, out, errOut)
		}
	}
}

// The self-service page's invitations sent by a log sender are written to the log, each
// link a way into its user's account: emfa check warned of a factor's log sender, as the
// README's delivery section says it does, and not of the page's, which the README's
// self-service settings pasted beside a dev sender showed passing without a word.
func TestCheckSelfServiceLogSender(t *testing.T) {
	path := writeTestConfig(t, "", `delivery:
  dev: {type: log}
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
selfService:
  enabled: true
  capabilities: [totp]
  publicURL: https://mfa.example.com
  mail: {sender: dev}
`)
	code, out, errOut := emfa(t, "check", "--config", path)
	if want := "warning: " + path + ":19: selfService.mail.sender: a log sender"; code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("exit %d, want 0 and %q in:\n%s%s", code, want, out, errOut)
	}
}

// emfa check's summary counts in words ("1 capability"), its list of problems starts on
// the line after "emfa check:" with no trailing blank, and a builtin engine's warning
// says where it is, file and line, as its errors do.
func TestCheckSummaryAndWarnings(t *testing.T) {
	path := writeTestConfig(t, "", `delivery:
  dev: {type: log}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [smsotp]
    builtin:
      smsotp: {sender: dev}
`)
	code, out, errOut := emfa(t, "check", "--config", path)
	if code != 0 || !strings.Contains(out, ": 1 provider, 1 capability, 0 transforms compiled,") {
		t.Errorf("summary: exit %d\n%s%s", code, out, errOut)
	}
	if want := "warning: " + path + ":18: providers[0].builtin.smsotp.sender: a log sender"; !strings.Contains(errOut, want) {
		t.Errorf("want %q in:\n%s", want, errOut)
	}
	bad := strings.Replace(strings.Replace(mustRead(t, path), "requestTimeout: 5s", "requestTimeout: 5", 1), "format: json", "format: xml", 1)
	os.WriteFile(path, []byte(bad), 0o600)
	code, _, errOut = emfa(t, "check", "--config", path)
	// The warnings come first (check goes on past the file's problems, and finds the
	// log sender's too), then the problems.
	if code != 1 || !strings.Contains(errOut, "\nemfa check:\n  "+path+":3: ") || strings.HasSuffix(errOut, "\n\n") {
		t.Errorf("problems: exit %d\n%q", code, errOut)
	}
}

// A section whose files come from unset variables (server.tls) is not read by emfa check
// without them: its warning is the variable's, and the rest is checked.
func TestCheckSkipsTLSWithoutItsVariables(t *testing.T) {
	t.Setenv("TLS_CERT", "")
	t.Setenv("EMFA_ENCRYPTION_KEY", testEncryptionKey)
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	doc := strings.Replace(mustRead(t, "../../testdata/config/emfa.yaml"), "  auth:", "  tls: {cert: \"${TLS_CERT}\", key: /etc/emfa/tls.key}\n  auth:", 1)
	doc = strings.Replace(doc, "file:/var/lib/emfa/emfa.db", "file:"+filepath.Join(t.TempDir(), "emfa.db"), 1)
	os.WriteFile(path, []byte(doc), 0o600)
	code, out, errOut := emfa(t, "check", "--config", path)
	if code != 0 || !strings.Contains(errOut, "server.tls.cert: environment variable TLS_CERT is not set") {
		t.Errorf("exit %d\n%s%s", code, out, errOut)
	}
}

// A sender's settings are strings: emfa check (and a reload's log) says what is wrong with
// one without printing it, since it may be a secret in the wrong place (an auth token
// pasted as the accountSid, a password in a baseUrl's user info), as the README promises
// for every string setting.
func TestCheckSenderErrorsNeverEchoTheValue(t *testing.T) {
	const s = "SuperSecretPassw0rdXYZ"
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	os.WriteFile(path, []byte(`server:
  auth: {basic: {username: verify, password: verify-password-0123}}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
delivery:
  sid: {type: twilio, accountSid: `+s+`1, authToken: t, from: "+15551230000"}
  from: {type: twilio, accountSid: AC0123456789abcdef0123456789abcdef, authToken: t, from: "`+s+`2!"}
  userinfo: {type: twilio, accountSid: AC0123456789abcdef0123456789abcdef, authToken: t, from: "+15551230000", baseUrl: "https://AC0:`+s+`3@api.twilio.com"}
  plain: {type: twilio, accountSid: AC0123456789abcdef0123456789abcdef, authToken: t, from: "+15551230000", baseUrl: "http://`+s+`4.example"}
  relative: {type: twilio, accountSid: AC0123456789abcdef0123456789abcdef, authToken: t, from: "+15551230000", baseUrl: "`+s+`5"}
  mail: {type: smtp, host: "`+s+`6/", from: "`+s+`7"}
  hook: {type: http, url: "https://sms.example.com/", method: `+s+`8, headers: [{name: "`+s+`9 x", value: v}, {name: Host, value: v}], body: '{"to": to}'}
providers:
  - {name: A, credentialPrefix: a, capabilities: [totp]}
`), 0o600)
	code, _, errOut := emfa(t, "check", "--config", path)
	if code != 1 {
		t.Fatalf("check: exit %d\n%s", code, errOut)
	}
	if strings.Contains(strings.ToLower(errOut), strings.ToLower(s)) {
		t.Errorf("check prints a sender's value:\n%s", errOut)
	}
	for _, want := range []string{
		"delivery.sid: twilio: accountSid: want AC and 32 hex digits",
		"delivery.from: twilio: from: want an E.164 number",
		"delivery.userinfo: twilio: baseUrl: query, fragment or user info",
		"delivery.plain: twilio: baseUrl: want https",
		"delivery.relative: twilio: baseUrl: not an absolute URL",
		"delivery.mail: smtp: host: want a host name or an IP address",
		"from: want one e-mail address",
		"delivery.hook: http: method: want POST, PUT or PATCH",
		"headers[0]: name: not a header name",
		"headers[1]: name: set by the client",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check output lacks %q:\n%s", want, errOut)
		}
	}
}

// A certificate file that is not PEM is reported once under its key, not as
// "server.tls: server.tls: …".
func TestCheckTLSErrorNamedOnce(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("junk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(cfg, []byte(`server:
  listen: "127.0.0.1:0"
  auth: {basic: {username: verify, password: "sim-password-0123"}}
  tls: {cert: `+junk+`, key: `+junk+`}
storage: {dsn: "file:`+dir+`/emfa.db", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - {name: b, credentialPrefix: emfa, capabilities: [totp], engine: builtin}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := emfa(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, ":4: server.tls: tls: ") || strings.Contains(errOut, "server.tls: server.tls") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

// A configuration check refuses still shows the variables it found unset: the operator
// who fixes the typo should not learn of them only at the next run.
func TestCheckWarnsOfUnsetVariablesBesideAProblem(t *testing.T) {
	t.Setenv("NOPE_PW", "")
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	os.WriteFile(path, []byte(`server:
  lisen: 127.0.0.1:8080
  auth: {basic: {username: verify, password: "${NOPE_PW}"}}
storage: {driver: sqlite, dsn: "x.db", encryptionKey: "`+testEncryptionKey+`"}
providers: [{name: A, credentialPrefix: a, capabilities: [totp], engine: builtin}]
`), 0o600)
	code, out, errOut := emfa(t, "check", "--config", path)
	for _, want := range []string{path + `:2: server: unknown key "lisen"`, "warning: " + path + ":3: server.auth.basic.password: environment variable NOPE_PW is not set"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("check: exit %d, want 1 and %q\n%s%s", code, want, out, errOut)
		}
	}
}
