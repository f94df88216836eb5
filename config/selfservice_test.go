package config

import (
	"strings"
	"testing"
	"time"
)

func TestSelfServiceSection(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
delivery:
  mail: {type: smtp, host: mail.example.com, from: otp@example.com}
  sms: {type: twilio, accountSid: AC0123456789abcdef0123456789abcdef, authToken: t0123456789abcdef, from: "+15550000000"}
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	good := `selfService:
  enabled: true
  capabilities: [totp, smsotp]
  publicURL: https://mfa.example.com
  mail: {sender: mail}
`
	cfg, err := Parse([]byte(base+good), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte(base+good+"  helpText: \"Call the IT help desk on +1 555 0100 — or https://help.example.com.\"\n"), "yaml", noEnv); err != nil {
		t.Errorf("a help text: %v", err)
	}
	d := cfg.SelfService.WithDefaults()
	if d.LinkLifetime != DefaultLinkLifetime || d.SessionIdle != DefaultSessionIdle || d.Mail.Subject != DefaultLinkSubject ||
		d.Mail.Template != DefaultLinkTemplate || d.Mail.HTML != DefaultLinkHTML {
		t.Errorf("defaults: %+v", d)
	}
	// A custom text template and no HTML one: no default HTML that would say otherwise.
	if d := (SelfService{Mail: SelfServiceMail{Template: "{{.Link}}"}}).WithDefaults(); d.Mail.HTML != "" || d.Capabilities[0] != "totp" {
		t.Errorf("custom template: %+v", d)
	}
	// Disabled: nothing is checked.
	if _, err := Parse([]byte(base+"selfService: {enabled: false, publicURL: nonsense, linkLifetime: 1s}\n"), "yaml", noEnv); err != nil {
		t.Errorf("disabled section checked: %v", err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"linkLifetime: 5m", "selfService.linkLifetime: must be between 10m and 504h"},
		{"linkLifetime: 600h", "selfService.linkLifetime"},
		{"sessionIdle: 30s", "selfService.sessionIdle: must be between 1m and 1h"},
		{"sessionIdle: 2h", "selfService.sessionIdle"},
		{"publicURL: ''", "selfService.publicURL: must be the absolute http(s) URL"},
		{"publicURL: ftp://mfa.example.com", "selfService.publicURL"},
		{"publicURL: /self-service", "selfService.publicURL"},
		{"mail: {sender: ''}", "selfService.mail.sender: is required"},
		{"mail: {sender: fax}", `selfService.mail.sender: no such sender under delivery`},
		{"mail: {sender: mial}", `selfService.mail.sender: no such sender under delivery (did you mean "mail"?)`},
		{"mail: {sender: sms}", `selfService.mail.sender: names a sender that cannot send e-mail`},
		{"mail: {sender: mail, subject: \"two\\nlines\"}", "selfService.mail.subject: must be one line"},
		{"mail: {sender: mail, subject: '{{.Name'}", "selfService.mail.subject"},
		{"mail: {sender: mail, template: 'Hello {{.DisplayName}}'}", "selfService.mail.template: must show the link"},
		{"mail: {sender: mail, template: '{{.Link}'}", "selfService.mail.template"},
		{"mail: {sender: mail, html: '<p>no link</p>'}", "selfService.mail.html: must show the link"},
		{"mail: {sender: mail, html: '{{.Link}} {{end}}'}", "selfService.mail.html"},
		{"helpText: '" + strings.Repeat("x", 501) + "'", "selfService.helpText: must be at most 500 characters, not 501"},
		{"helpText: \"Call us.\\nOr write.\"", "selfService.helpText: must be one paragraph"},
	} {
		// Each case replaces one key of the good section.
		key := tc.yaml[:strings.Index(tc.yaml, ":")]
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(good), "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), key+":") {
				lines = append(lines, l)
			}
		}
		yaml := strings.Join(lines, "\n") + "\n  " + tc.yaml + "\n"
		_, err := Parse([]byte(base+yaml), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

// TestSelfServiceThrottle: the page's per-address budgets are the operator's to set under
// selfService.throttle, each part apart (the rest keep their defaults), and a budget that
// would refuse every attempt, or never let one through again, is refused with its path.
func TestSelfServiceThrottle(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
delivery:
  mail: {type: smtp, host: mail.example.com, from: otp@example.com}
selfService:
  enabled: true
  publicURL: https://mfa.example.com
  mail: {sender: mail}
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	cfg, err := Parse([]byte(base), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := SelfServiceThrottle{SignIns: Budget{Burst: 10, Every: 6 * time.Second}, UnknownLinkRecords: Budget{Burst: 10, Every: 6 * time.Minute}}
	if got := cfg.SelfService.WithDefaults().Throttle; got != want {
		t.Errorf("defaults: %+v, want %+v", got, want)
	}
	cfg, err = Parse([]byte(base+"  throttle: {signIns: {burst: 3}, unknownLinkRecords: {every: 1h}}\n"), "yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want = SelfServiceThrottle{SignIns: Budget{Burst: 3, Every: 6 * time.Second}, UnknownLinkRecords: Budget{Burst: 10, Every: time.Hour}}
	if got := cfg.SelfService.WithDefaults().Throttle; got != want {
		t.Errorf("set in part: %+v, want %+v", got, want)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"{signIns: {burst: -1}}", "selfService.throttle.signIns.burst: must be between 1 and 1000, not -1"},
		{"{signIns: {burst: 5000}}", "selfService.throttle.signIns.burst"},
		{"{signIns: {every: 10ms}}", "selfService.throttle.signIns.every: must be between 1s and 24h, not 10ms"},
		{"{signIns: {every: -6s}}", "selfService.throttle.signIns.every"},
		{"{unknownLinkRecords: {burst: 0, every: 48h}}", "selfService.throttle.unknownLinkRecords.every: must be between 1s and 24h"},
		{"{unknownLinkRecords: {burst: -2}}", "selfService.throttle.unknownLinkRecords.burst"},
		{"{signIns: {burst: 3, often: 2}}", "often"},
	} {
		_, err := Parse([]byte(base+"  throttle: "+tc.yaml+"\n"), "yaml", noEnv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
