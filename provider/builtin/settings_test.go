package builtin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

const settingsKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes

// check loads a configuration as emfa does and checks its first provider's builtin
// section, with senders of the kinds its delivery section names.
func check(t *testing.T, yaml string) ([]string, error) {
	t.Helper()
	cfg, err := config.Parse([]byte(`
server: {auth: {basic: {username: v, password: a-password-of-16-chars}}}
storage: {dsn: ":memory:", encryptionKey: "`+settingsKey+`"}
delivery:
  mail:   {type: smtp, host: smtp.example.com, from: "MFA <mfa@example.com>"}
  sms:    {type: twilio, accountSid: AC1, authToken: tok, from: "+15550001111"}
  devlog: {type: log}
`+yaml), "yaml", config.Options{LookupEnv: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	return builtin.Check(builtin.Options{Config: p.Builtin, Capabilities: p.Capabilities, Path: "providers[0]",
		Senders: func(name string) (delivery.Sender, error) {
			d, ok := cfg.DeliveryNamed(name)
			if !ok {
				return nil, errors.New("no such sender under delivery")
			}
			if d.Type == config.DeliverySMTP {
				return delivery.NewSMTP(delivery.SMTPOptions{Host: d.Host, TLS: d.TLS, Port: d.Port, From: d.From})
			}
			return delivery.NewLog(nil), nil
		}})
}

// assertErrors checks err lists exactly the problems want (each a prefix of one).
func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	var es config.Errors
	if !errors.As(err, &es) {
		t.Fatalf("want config.Errors, got %v", err)
	}
	if len(es) != len(want) {
		t.Errorf("%d problems, want %d:\n%v", len(es), len(want), err)
	}
	for _, w := range want {
		found := false
		for _, e := range es {
			found = found || strings.HasPrefix(e.Error(), w)
		}
		if !found {
			t.Errorf("no problem %q in:\n%v", w, err)
		}
	}
}

// Each factor type checks its own section and reports every problem at its
// configuration path; the engine checks its own keys and the capabilities exposed.
func TestSettingsChecked(t *testing.T) {
	good := `
providers:
  - name: A
    credentialPrefix: a
    capabilities: [TOTP, hotp, emailotp, push, question]
    builtin:
      totp: {window: 0}
      emailotp: {sender: MAIL, lifetime: 10m}
      question: {enabled: true}
      push:     {numberMatching: true, notifier: {url: "https://push.example.com/notify"}}
`
	if warnings, err := check(t, good); err != nil || len(warnings) != 0 {
		t.Fatalf("good section: %v %v", warnings, err)
	}

	_, err := check(t, `
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp, fingerprint, smsotp, emailotp, question, push]
    builtin:
      totp: {algorithm: MD5, digits: 7, period: 5, window: 40, colour: blue}
      hotp: {window: 0}
      smsotp: {sender: mail, template: "no code here", length: 4}
      emailotp: {sender: nowhere}
      question: {}
      push: {lifetime: 1s, notifier: {type: pigeon, url: "ftp://x"}}
      lockout: {maxFailures: 1000}
      sendLimits: {perUser: [{window: 0s, max: 1}]}
      maxFactorsPerUser: 0
      frobnicate: true
`)
	assertErrors(t, err, []string{
		`providers[0].capabilities[1]: the builtin engine cannot serve it`,
		`providers[0].builtin.totp.algorithm: unknown algorithm (want SHA1, SHA256 or SHA512)`,
		"providers[0].builtin.totp.digits: must be 6 or 8, not 7",
		"providers[0].builtin.totp.period: must be between 10 and 300 seconds, not 5",
		"providers[0].builtin.totp.window: must be between 0 and 10 steps, not 40",
		`providers[0].builtin.totp: unknown key "colour"`,
		"providers[0].builtin.hotp.window: must be between 1 and 100, not 0",
		"providers[0].builtin.smsotp.sender: a smtp sender cannot deliver smsotp",
		"providers[0].builtin.smsotp.length: must be between 6 and 10 digits, not 4",
		"providers[0].builtin.smsotp.template: must contain {{code}}",
		`providers[0].builtin.emailotp.sender: no such sender under delivery`,
		"providers[0].builtin.question.enabled: the question capability needs question.enabled: true",
		"providers[0].builtin.push.lifetime: must be between 10s and 30m, not 1s",
		`providers[0].builtin.push.notifier.type: unknown notifier (want http)`,
		"providers[0].builtin.push.notifier.url: must be an http(s) URL with a host",
		"providers[0].builtin.lockout.maxFailures: must be between 1 and 100, not 1000",
		"providers[0].builtin.sendLimits.perUser[0]: needs a positive window and max",
		"providers[0].builtin.maxFactorsPerUser: must be between 1 and 1000, not 0",
		`providers[0].builtin: unknown key "frobnicate"`,
	})

	warnings, err := check(t, `
providers:
  - {name: A, credentialPrefix: a, capabilities: [smsotp], builtin: {smsotp: {sender: devlog}}}
`)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "providers[0].builtin.smsotp.sender") || !strings.Contains(warnings[0], "log sender") {
		t.Errorf("log sender: %q %v", warnings, err)
	}
}

// Unset keys take their defaults, whatever the section leaves out; an explicit 0 is
// kept where it means something (totp.window).
func TestSettingsDefaults(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.section = map[string]any{} })
		seed := builtin.EncodeSecret(rfcSeed)
		totp := f.enroll(t, "totp", "alice", "secret", seed)
		hotp := f.enroll(t, "hotp", "alice", "secret", seed)
		for _, got := range []map[string]any{totp.Output, hotp.Output} {
			if got["algorithm"] != "SHA1" || got["digits"] != "6" {
				t.Errorf("seed defaults: %v", got)
			}
		}
		if totp.Output["period"] != "30" || !strings.Contains(totp.Output["otpauthURI"].(string), "issuer=emfa") {
			t.Errorf("totp defaults: %v", totp.Output)
		}
		// Window 1 by default: the previous step's code works.
		now := f.clock.Now().Unix() / 30
		prev := builtin.HOTP(builtin.SHA1, rfcSeed, uint64(now-1), 6)
		expect(t, "previous step, default window", f.validate(t, "alice", "totp", totp.Factor.ID, "", prev), "SUCCESS", "")

		zero := newEngineFixture(t, testdb.SQLite(t), func(c *engineConfig) { c.section = map[string]any{"totp": map[string]any{"window": 0}} })
		id := zero.enroll(t, "totp", "alice", "secret", seed).Factor.ID
		prev = builtin.HOTP(builtin.SHA1, rfcSeed, uint64(zero.clock.Now().Unix()/30-1), 6)
		expect(t, "previous step, window 0", zero.validate(t, "alice", "totp", id, "", prev), "FAILED", "wrong code")
	})
}

// builtin.maxFactorsPerUser bounds the factors of a user, of every type together, in
// the one enrollment path.
func TestMaxFactorsPerUser(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("maxFactorsPerUser", 3) })
		ctx := context.Background()
		f.enroll(t, "smsotp", "alice", "phone", "+15551230123")
		f.enroll(t, "totp", "alice")
		f.enroll(t, "emailotp", "alice", "email", "alice@example.com")
		for _, in := range []builtin.Enrollment{
			enrollment("hotp", "alice"),
			enrollment("smsotp", "alice", "phone", "+15551230124"),
			questionEnrollment("alice", questionPairs),
		} {
			_, err := f.engine.Enroll(ctx, in)
			if !errors.Is(err, builtin.ErrTooManyFactors) || !strings.Contains(err.Error(), "alice already has 3 factors") {
				t.Errorf("%s beyond the limit: %v", in.Type, err)
			}
		}
		if list, _ := st.ListFactors(ctx, "u-alice"); len(list) != 3 {
			t.Errorf("alice has %d factors", len(list))
		}
		// The limit is per user; a deleted factor makes room.
		f.enroll(t, "hotp", "bob")
		if err := st.DeleteFactor(ctx, f.enroll(t, "totp", "bob").Factor.ID); err != nil {
			t.Fatal(err)
		}
		list, _ := st.ListFactors(ctx, "u-alice")
		if err := st.DeleteFactor(ctx, list[0].ID); err != nil {
			t.Fatal(err)
		}
		f.enroll(t, "hotp", "alice")

		// The default is 20.
		d := newEngineFixture(t, testdb.SQLite(t), nil)
		for i := range 20 {
			d.enroll(t, "totp", "alice", "name", string(rune('a'+i)))
		}
		if _, err := d.engine.Enroll(ctx, enrollment("totp", "alice")); !errors.Is(err, builtin.ErrTooManyFactors) {
			t.Errorf("21st factor: %v", err)
		}
	})
}

// A factor type's section reports like config's own: an unknown key with the nearest
// known one, a duration without a unit, and — through config.Annotate — each with its
// file and line.
func TestSettingsLinesAndUnits(t *testing.T) {
	text := `server: {auth: {basic: {username: v, password: a-password-of-16-chars}}}
storage: {dsn: ":memory:", encryptionKey: "` + settingsKey + `"}
delivery:
  devlog: {type: log}
providers:
  - name: A
    credentialPrefix: a
    capabilities: [smsotp, push]
    builtin:
      smsotp:
        sender: devlog
        lifetme: 5m
      push:
        lifetime: 120
`
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Providers[0]
	_, err = builtin.Check(builtin.Options{Config: p.Builtin, Capabilities: p.Capabilities, Path: "providers[0]",
		Senders: func(string) (delivery.Sender, error) { return delivery.NewLog(nil), nil }})
	assertErrors(t, cfg.Annotate(err), []string{
		path + `:12: providers[0].builtin.smsotp: unknown key "lifetme" (did you mean "lifetime"?)`,
		path + ":14: providers[0].builtin.push.lifetime: 120 has no unit: write 120s",
	})
}
