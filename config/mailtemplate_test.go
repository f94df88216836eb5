package config

import (
	"strings"
	"testing"
)

// TestMailTemplatesCheckedAsRun: the invite's templates are checked as an invite
// runs them (missingkey=error over DisplayName, Link and Expires), so that a field the
// mail does not have (`{{.Name}}`), which made every invite fail, is named by emfa check;
// and a template that shows the link in the usual spelling with spaces (`{{ .Link }}`)
// is not refused as one without it, nor one that never shows it passed.
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
	} {
		_, err := Parse([]byte(base+"  mail: "+tc.mail+"\n"), "yaml", noEnv)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want it taken", tc.mail, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.mail, err, tc.want)
		}
	}
}
