package main

import (
	"strings"

	"github.com/emfa/emfa/lifecycle"
)

// selfService builds the self-service page's rules when selfService.enabled, else nil.
func (e *env) selfService(m *lifecycle.Manager) (ss *lifecycle.SelfService, secure bool, err error) {
	c := e.cfg.SelfService
	if !c.Enabled {
		return nil, false, nil
	}
	c = c.WithDefaults()
	mailer, err := e.sender(c.Mail.Sender)
	if err != nil {
		return nil, false, err
	}
	ss, err = m.SelfService(lifecycle.SelfServiceOptions{
		Capabilities: c.Capabilities, LinkLifetime: c.LinkLifetime, SessionIdle: c.SessionIdle,
		AllowRemoveLast: c.AllowRemoveLast, PublicURL: c.PublicURL, Mailer: mailer,
		Subject: c.Mail.Subject, Text: c.Mail.Template, HTML: c.Mail.HTML,
	})
	// Users reach emfa at publicURL: https there means a proxy terminates TLS for us.
	return ss, strings.HasPrefix(strings.ToLower(c.PublicURL), "https://"), err
}
