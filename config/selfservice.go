package config

import (
	"errors"
	htmltemplate "html/template"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	templateparse "text/template/parse"
	"time"
	"unicode"
	"unicode/utf8"
)

// SelfService configures the self-service page (/self-service/): activation links e-mailed
// to users, the enrollment they open, and sign-in to manage one's own factors.
type SelfService struct {
	Enabled bool `mapstructure:"enabled"`
	// Capabilities are the factor types a user may enroll on the page (totp, smsotp,
	// emailotp, voicecall, push: those whose type says how, builtin.PageTypes). Default:
	// totp.
	Capabilities []string `mapstructure:"capabilities"`
	// LinkLifetime: default 168h (7 days), at most 21 days.
	LinkLifetime time.Duration `mapstructure:"linkLifetime"`
	// SessionIdle ends a page session unused that long. Default 10m.
	SessionIdle time.Duration `mapstructure:"sessionIdle"`
	// AllowRemoveLast lets a user remove their last active factor.
	AllowRemoveLast bool `mapstructure:"allowRemoveLast"`
	// PublicURL is where users reach emfa (https://mfa.example.com): links point there.
	PublicURL string          `mapstructure:"publicURL"`
	Mail      SelfServiceMail `mapstructure:"mail"`
	// Throttle is the page's budgets per client address. A reload applies new ones.
	Throttle SelfServiceThrottle `mapstructure:"throttle"`
	// HelpText is shown under every error page's message: where to get help ("Call the
	// IT help desk on 555 0100"). Plain text, one paragraph; "" shows none.
	HelpText string `mapstructure:"helpText"`
}

// MaxHelpText bounds selfService.helpText: a sentence or two, not a page.
const MaxHelpText = 500

// SelfServiceThrottle is the self-service page's budgets per client address, kept by
// each process in memory.
type SelfServiceThrottle struct {
	// SignIns: the failed sign-ins (a wrong code, a push sent, an unknown link opened) an
	// address may make in a row, then one more per Every; past it the page answers 429.
	// Default 10, then one per 6s.
	SignIns Budget `mapstructure:"signIns"`
	// UnknownLinkRecords: the refused activation links of an address (unknown, spent,
	// expired, their user disabled) recorded in the audit trail, then one more per Every;
	// the others are logged. Default 10, then one per 6m.
	UnknownLinkRecords Budget `mapstructure:"unknownLinkRecords"`
}

// Budget is Burst attempts in a row, then one more earned every Every. Zero takes the
// default.
type Budget struct {
	Burst int           `mapstructure:"burst"`
	Every time.Duration `mapstructure:"every"`
}

func (b Budget) withDefaults(d Budget) Budget {
	if b.Burst == 0 {
		b.Burst = d.Burst
	}
	if b.Every == 0 {
		b.Every = d.Every
	}
	return b
}

func (b Budget) validate(path string, add func(path, format string, args ...any)) {
	if b.Burst != 0 && (b.Burst < 1 || b.Burst > 1000) {
		add(path+".burst", "must be between 1 and 1000, not %d", b.Burst)
	}
	if b.Every != 0 && (b.Every < time.Second || b.Every > 24*time.Hour) {
		add(path+".every", "must be between 1s and 24h, not %s", b.Every)
	}
}

// SelfServiceMail is the e-mail that carries an activation link. Templates see
// {{.DisplayName}}, {{.Link}} and {{.Expires}}; the text (and the HTML, when set) must
// show {{.Link}}.
type SelfServiceMail struct {
	Sender   string `mapstructure:"sender"`
	Subject  string `mapstructure:"subject"`
	Template string `mapstructure:"template"`
	HTML     string `mapstructure:"html"`
}

// Self-service defaults.
const (
	DefaultLinkLifetime = 7 * 24 * time.Hour
	DefaultSessionIdle  = 10 * time.Minute
	DefaultLinkSubject  = "Set up your sign-in verification"
	DefaultLinkTemplate = `Hello {{.DisplayName}},

open this link to set up your second sign-in factor:

{{.Link}}

The link works once and expires on {{.Expires}}.
`
	DefaultLinkHTML = `<p>Hello {{.DisplayName}},</p>
<p>open this link to set up your second sign-in factor:</p>
<p><a href="{{.Link}}">{{.Link}}</a></p>
<p>The link works once and expires on {{.Expires}}.</p>
`
)

// sampleLink is the link the mail templates are checked with: what they write must show it.
const sampleLink = "https://mfa.example.com/self-service/link/sample0link0token"

// Default budgets of the page per client address (selfService.throttle): 10 failed
// sign-ins in a row, then one per 6 s; 10 unknown links recorded, then one per 6 minutes
// (240 a day).
var (
	DefaultSignInBudget     = Budget{Burst: 10, Every: 6 * time.Second}
	DefaultLinkRecordBudget = Budget{Burst: 10, Every: 6 * time.Minute}
)

// WithDefaults fills what the operator left unset.
func (s SelfService) WithDefaults() SelfService {
	if len(s.Capabilities) == 0 {
		s.Capabilities = []string{"totp"}
	}
	if s.LinkLifetime == 0 {
		s.LinkLifetime = DefaultLinkLifetime
	}
	if s.SessionIdle == 0 {
		s.SessionIdle = DefaultSessionIdle
	}
	s.Throttle.SignIns = s.Throttle.SignIns.withDefaults(DefaultSignInBudget)
	s.Throttle.UnknownLinkRecords = s.Throttle.UnknownLinkRecords.withDefaults(DefaultLinkRecordBudget)
	if s.Mail.Subject == "" {
		s.Mail.Subject = DefaultLinkSubject
	}
	if s.Mail.Template == "" {
		s.Mail.Template = DefaultLinkTemplate
		if s.Mail.HTML == "" {
			s.Mail.HTML = DefaultLinkHTML
		}
	}
	return s
}

func (c *Config) validateSelfService(add func(path, format string, args ...any)) {
	s := c.SelfService
	if !s.Enabled {
		return
	}
	// Which types the page can enroll is the factor types' to say, not config's: the
	// builtin engine checks selfService.capabilities (builtin.CheckSelfService).
	if d := s.LinkLifetime; d != 0 && (d < 10*time.Minute || d > 21*24*time.Hour) {
		// NIST SP 800-63B §6.1.2.3: at most 7 days, 21 by exception.
		add("selfService.linkLifetime", "must be between 10m and 504h (21 days), not %s", d)
	}
	if d := s.SessionIdle; d != 0 && (d < time.Minute || d > time.Hour) {
		add("selfService.sessionIdle", "must be between 1m and 1h, not %s", d)
	}
	s.Throttle.SignIns.validate("selfService.throttle.signIns", add)
	s.Throttle.UnknownLinkRecords.validate("selfService.throttle.unknownLinkRecords", add)
	if u, err := url.Parse(s.PublicURL); s.PublicURL == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		add("selfService.publicURL", "must be the absolute http(s) URL users reach emfa at")
	} else if !IsBaseURL(s.PublicURL) {
		add("selfService.publicURL", "must be emfa's base URL, https://host[:port][/path] (a port 1-65535, no space, no IPv6 zone), without a query, a fragment or credentials: links are publicURL/self-service/…")
	}
	if s.Mail.Sender == "" {
		add("selfService.mail.sender", "is required: the name of an e-mail sender under delivery")
	} else if d, ok := c.DeliveryNamed(s.Mail.Sender); !ok {
		add("selfService.mail.sender", "%s", c.NoSender(s.Mail.Sender))
	} else if !strings.EqualFold(d.Type, "smtp") && !strings.EqualFold(d.Type, "log") && !strings.EqualFold(d.Type, "http") {
		add("selfService.mail.sender", "names a sender that cannot send e-mail (want an smtp, http or log sender)")
	}
	if n := utf8.RuneCountInString(s.HelpText); n > MaxHelpText {
		add("selfService.helpText", "must be at most %d characters, not %d", MaxHelpText, n)
	}
	if !utf8.ValidString(s.HelpText) || strings.ContainsFunc(s.HelpText, unicode.IsControl) {
		add("selfService.helpText", "must be one paragraph of text, without line breaks or control characters")
	}
	if strings.ContainsAny(s.Mail.Subject, "\r\n") {
		add("selfService.mail.subject", "must be one line")
	}
	// Each template is run as an invite runs it (missingkey=error over the fields it
	// sees), so that a field the mail does not have is named here rather than failing
	// every invite, and "shows the link" is what it writes, however the action is spelt.
	sample := map[string]any{"DisplayName": "Alice", "Link": sampleLink, "Expires": "1 May 2026 09:00 UTC"}
	checkMailTemplate := func(path, text string, html, needLink bool) {
		if text == "" {
			return
		}
		b := &mailWriter{}
		var err, exec error
		var tree *templateparse.Tree
		if html {
			var t *htmltemplate.Template
			if t, err = htmltemplate.New("").Option("missingkey=error").Parse(text); err == nil {
				if tree = t.Tree; unboundedMail(tree.Root) == "" {
					exec = t.Execute(b, sample)
				}
			}
		} else {
			var t *template.Template
			if t, err = template.New("").Option("missingkey=error").Parse(text); err == nil {
				if tree = t.Tree; unboundedMail(tree.Root) == "" {
					exec = t.Execute(b, sample)
				}
			}
		}
		switch {
		case err != nil:
			add(path, "%v", err)
		case unboundedMail(tree.Root) != "":
			add(path, "%s: a mail has no list to range over, and its template is one text (its fields are {{.DisplayName}}, {{.Link}} and {{.Expires}})", unboundedMail(tree.Root))
		case errors.Is(exec, errMailTooLong):
			add(path, "writes more than %d KiB for one mail", maxMailBytes>>10)
		case exec != nil:
			add(path, "%v (the mail's fields are {{.DisplayName}}, {{.Link}} and {{.Expires}})", exec)
		case needLink && !strings.Contains(b.String(), sampleLink):
			add(path, "must show the link: {{.Link}} is missing")
		}
	}
	checkMailTemplate("selfService.mail.subject", s.Mail.Subject, false, false)
	checkMailTemplate("selfService.mail.template", s.Mail.Template, false, true)
	checkMailTemplate("selfService.mail.html", s.Mail.HTML, true, true)
}

// maxMailBytes bounds what a mail template may write for the sample invite: a mail is a
// page, and a template that writes a megabyte a hundred times over ({{printf "%999999d" 1}})
// took memory in proportion at every load and every invite.
const maxMailBytes = 1 << 20

var errMailTooLong = errors.New("mail too long")

// mailWriter is a strings.Builder that refuses to grow past maxMailBytes: the template's
// run stops at the write refused.
type mailWriter struct{ strings.Builder }

func (w *mailWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > maxMailBytes {
		return 0, errMailTooLong
	}
	return w.Builder.Write(p)
}

// unboundedMail names what in a mail template's tree would make its run unbounded, or
// "": a range ({{range 1000000000000}}, Go's templates range over an integer) and a call
// of another template ({{template}}, {{block}}: nested ten deep, each calling the next ten
// times, they run ten billion times), which emfa check ran at every load, and every invite
// after. The mail's fields are three strings: neither has a use there.
func unboundedMail(n templateparse.Node) string {
	switch n := n.(type) {
	case *templateparse.ListNode:
		if n == nil {
			return ""
		}
		for _, c := range n.Nodes {
			if what := unboundedMail(c); what != "" {
				return what
			}
		}
	case *templateparse.RangeNode:
		return "{{range}} is not run"
	case *templateparse.TemplateNode:
		return "{{template}} and {{block}} are not run"
	case *templateparse.IfNode:
		return cmpOr(unboundedMail(n.List), unboundedMail(n.ElseList))
	case *templateparse.WithNode:
		return cmpOr(unboundedMail(n.List), unboundedMail(n.ElseList))
	}
	return ""
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func pathIndex(p string, i int) string { return p + "[" + strconv.Itoa(i) + "]" }

// IsBaseURL reports whether s is an absolute http(s) URL that paths can be appended to:
// no query, fragment or credentials, which a path appended would follow (a link's token
// in another page's query) or which would be sent on to everyone the URL is given to;
// and one that can be called from elsewhere, beyond what url.Parse checks: a port, when
// there is a colon, of 1-65535; no white space (Parse lets one through in the path); no
// IPv6 zone (fe80::1%eth0 names an interface of this machine).
func IsBaseURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(s, "#") {
		return false
	}
	if strings.HasSuffix(u.Host, ":") || strings.ContainsAny(s, " \t\r\n") || strings.Contains(u.Hostname(), "%") {
		return false
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}
