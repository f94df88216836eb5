package config

import (
	"strings"
	"testing"
	"time"
)

// TestMailTemplatesCheckedAsRun: the invite's templates are checked as an invite
// runs them (missingkey=error over DisplayName, Link and Expires), so that a field the
// mail does not have (`{{.Name}}`), which made every invite fail, is named by emfa check;
// and a template that shows the link in the usual spelling with spaces (`{{ .Link }}`)
// is not refused as one without it, nor one that never shows it passed.
//
// The check runs each template, and ran whatever it said: {{range 1000000000000}} (Go's
// templates range over an integer) kept check, serve and every reload busy for hours, and a
// template that writes a megabyte a hundred times over (printf with a width, nested
// templates) took memory in proportion. A mail has no list to range over and is one page: a
// range or a call of another template is refused, and so is a sample mail past 1 MiB, each
// at its key.
func TestMailTemplatesCheckedAsRun(t *testing.T) {
	base := `server: {listen: "127.0.0.1:8080", auth: {basic: {username: v, password: a-strong-password-0123}}}
storage: {dsn: x.db, encryptionKey: "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
providers: [{name: n, credentialPrefix: p, capabilities: [totp]}]
delivery:
  mail: {type: smtp, host: mail.example.com, from: otp@example.com}
selfService:
  enabled: true
  publicURL: https://mfa.example.com
`
	noEnv := Options{LookupEnv: func(string) (string, bool) { return "", false }}
	for _, tc := range []struct{ mail, want string }{
		{`{sender: mail, template: "Hello {{.Name}}: {{.Link}}"}`, "selfService.mail.template"},
		{`{sender: mail, html: "<p>{{.Username}} <a href=\"{{.Link}}\">set up</a></p>"}`, "selfService.mail.html"},
		{`{sender: mail, subject: "Set up MFA, {{.Name}}"}`, "selfService.mail.subject"},
		{`{sender: mail, template: "{{if false}}{{.Link}}{{end}}"}`, "selfService.mail.template: must show the link"},
		{`{sender: mail, template: "Hello {{ .DisplayName }}: {{ .Link }} (until {{ .Expires }})"}`, ""},
		{`{sender: mail, html: "<a href=\"{{ .Link }}\">{{ .Link }}</a>"}`, ""},
		{`{sender: mail, subject: "Set up MFA, {{ .DisplayName }}"}`, ""},
		{`{sender: mail, template: "{{range 1000000000000}}{{end}}{{.Link}}"}`, "selfService.mail.template: "},
		{`{sender: mail, html: "{{range $i, $e := 1000000000000}}{{end}}<a href=\"{{.Link}}\">x</a>"}`, "selfService.mail.html: "},
		{`{sender: mail, subject: "{{range 1000000000000}}{{end}}"}`, "selfService.mail.subject: "},
		{`{sender: mail, template: "{{define \"a\"}}{{end}}{{define \"b\"}}{{template \"a\"}}{{template \"a\"}}{{end}}{{template \"b\"}}{{.Link}}"}`, "selfService.mail.template: "},
		{`{sender: mail, template: "{{if true}}{{with .Link}}{{block \"x\" .}}{{.}}{{end}}{{end}}{{end}}"}`, "selfService.mail.template: "},
		{`{sender: mail, template: "{{.Link}}` + strings.Repeat(`{{printf \"%999999d\" 1}}`, 200) + `"}`, "selfService.mail.template: "},
		{`{sender: mail, template: "{{if .DisplayName}}Hello {{.DisplayName}}{{else}}Hello{{end}}: {{with .Link}}{{.}}{{end}} {{printf \"%s\" .Expires}}"}`, ""},
	} {
		done := make(chan error, 1)
		go func() { _, err := Parse([]byte(base+"  mail: "+tc.mail+"\n"), "yaml", noEnv); done <- err }()
		var err error
		select {
		case err = <-done:
		case <-time.After(20 * time.Second): // a watchdog: the check should take milliseconds
			t.Fatalf("%.60s…: still checking after 20s", tc.mail)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.60s…: %v, want it taken", tc.mail, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%.60s…: %v, want %q", tc.mail, err, tc.want)
		}
	}
}
