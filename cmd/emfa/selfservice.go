package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// selfService builds the self-service page's rules when selfService.enabled, else nil.
func (e *env) selfService(m *lifecycle.Manager) (ss *lifecycle.SelfService, secure bool, err error) {
	c := e.cfg.SelfService
	if !c.Enabled {
		return nil, false, nil
	}
	// The page's sign-in attempts are counted with the send records: the sweeper keeps
	// them as long as the page's limits look back.
	e.sendRetention = max(e.sendRetention, builtin.SignInRetention())
	mailer, err := e.sender(c.Mail.Sender)
	if err != nil {
		return nil, false, err
	}
	return e.selfServiceWith(m, mailer)
}

func (e *env) selfServiceWith(m *lifecycle.Manager, mailer delivery.Sender) (ss *lifecycle.SelfService, secure bool, err error) {
	c := e.cfg.SelfService.WithDefaults()
	// The sign-in form's anonymous sessions are signed, not stored: with a key every
	// replica has (derived from, not equal to, the encryption key), since the form's POST
	// may reach another replica than the GET that served it.
	formKey, _ := config.DecodeKey(e.cfg.Storage.EncryptionKey)
	// The keys it replaced still open the sign-ins under way sealed with them.
	var previous [][]byte
	for _, k := range e.cfg.Storage.PreviousEncryptionKeys {
		if key, err := config.DecodeKey(k); err == nil {
			previous = append(previous, key)
		}
	}
	// Which types the page can enroll is theirs to say: a refusal names its line.
	if err := selfServiceCapabilities(e.cfg); err != nil {
		return nil, false, err
	}
	ss, err = m.SelfService(lifecycle.SelfServiceOptions{
		Capabilities: c.Capabilities, LinkLifetime: c.LinkLifetime, SessionIdle: c.SessionIdle,
		AllowRemoveLast: c.AllowRemoveLast, PublicURL: c.PublicURL, Mailer: mailer,
		Subject: c.Mail.Subject, Text: c.Mail.Template, HTML: c.Mail.HTML, FormKey: formKey,
		PreviousFormKeys: previous, HelpText: c.HelpText,
	})
	// Users reach emfa at publicURL: https there means a proxy terminates TLS for us.
	return ss, strings.HasPrefix(strings.ToLower(c.PublicURL), "https://"), err
}

// selfServiceCapabilities refuses each of selfService.capabilities the page cannot enroll
// (builtin.CheckSelfService), with the file and line of its key; nil when the page is off.
func selfServiceCapabilities(cfg *config.Config) error {
	if !cfg.SelfService.Enabled {
		return nil
	}
	return cfg.Annotate(builtin.CheckSelfService(cfg.SelfService.WithDefaults().Capabilities))
}

// pageBudgets are the page's throttles per client address (selfService.throttle): a
// reload builds the server again with them.
func pageBudgets(c config.SelfService) adapter.PageBudgets {
	t := c.WithDefaults().Throttle
	return adapter.PageBudgets{SignInBurst: t.SignIns.Burst, SignInEvery: t.SignIns.Every,
		LinkRecordBurst: t.UnknownLinkRecords.Burst, LinkRecordEvery: t.UnknownLinkRecords.Every}
}

// cliSelfService is the self-service rules for a command, or why there are none. Admin
// commands send nothing, except links: with deliver, selfService.mail.sender is built for
// real (its secrets must be set).
func (e *env) cliSelfService(deliver bool) (*lifecycle.SelfService, error) {
	if !e.cfg.SelfService.Enabled {
		return nil, fmt.Errorf("selfService.enabled is false in %s: there is no page to link to "+
			"(turn it on in the configuration file you pass with --config: see the README's Self-service)", e.cfg.Source)
	}
	m, err := e.cliManager()
	if err != nil {
		return nil, err
	}
	var mailer delivery.Sender
	if name := e.cfg.SelfService.Mail.Sender; deliver && name != "" {
		d, ok := e.cfg.DeliveryNamed(name)
		switch {
		case !ok:
			return nil, fmt.Errorf("selfService.mail.sender: no sender %q under delivery", name)
		case e.cfg.Unset("delivery." + name):
			return nil, fmt.Errorf("delivery.%s has an unset variable: the link cannot be e-mailed (or use --deliver=false)", name)
		}
		if mailer, err = e.newSender(d); err != nil {
			return nil, fmt.Errorf("delivery.%s: %w", name, err)
		}
	}
	ss, _, err := e.selfServiceWith(m, mailer)
	return ss, err
}

// usersInviteCmd is `emfa users invite NAME [--deliver=false]`: the CLI's
// POST /admin/v1/users/{name}/activation-link.
func (d *deps) usersInviteCmd() *cobra.Command {
	deliver := true
	c := d.storeCmd(&cobra.Command{
		Use:   "invite NAME",
		Short: "e-mail a user a single-use link to the self-service page (or print it with --deliver=false)",
		Long: `invite issues a user's activation link, replacing any older one: the user opens it and
enrolls a factor on the self-service page. The link is e-mailed to the user's address with
selfService.mail, or printed with --deliver=false for you to hand on. One link per user per
minute.`,
		Example: `  emfa users invite alice --config emfa.yaml
  emfa users invite alice --deliver=false --config emfa.yaml   # print the URL instead`,
		Args: exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, e *env, args []string) error {
		ss, err := e.cliSelfService(deliver)
		if err != nil {
			return err
		}
		l, err := ss.IssueLink(ctx, cliActor, args[0], deliver)
		var le *lifecycle.Error
		if errors.As(err, &le) && le.Code == "no_email" {
			// The API's message names its body's field; here it is a flag.
			cli := *le
			cli.Msg = fmt.Sprintf("user %q has no e-mail address; set one, or print the link with --deliver=false", args[0])
			return &cli
		}
		if err != nil {
			return err
		}
		if !deliver {
			// A link that could not be printed reached no one: it is withdrawn (spent, the
			// minute given back), not left live for no one, and the command fails. SIGPIPE
			// ignored, or a closed pipe would end the process before (printingOnce).
			printingOnce()
			if _, werr := fmt.Fprintln(d.stdout, l.URL); werr != nil {
				if err := ss.WithdrawLink(ctx, cliActor, args[0], l, "not printed"); err != nil {
					return fmt.Errorf("the link was not printed (%v), nor withdrawn: %w; run invite again to replace it", werr, err)
				}
				return fmt.Errorf("the link was not printed (%v) and is withdrawn; run invite again", werr)
			}
			fmt.Fprintf(d.stderr, "expires %s\n", l.Expires.UTC().Format("2006-01-02 15:04 MST"))
			return nil
		}
		fmt.Fprintf(d.stdout, "sent %s's activation link to %s (expires %s)\n", args[0], l.To, l.Expires.UTC().Format("2006-01-02 15:04 MST"))
		return nil
	})
	c.Flags().BoolVar(&deliver, "deliver", true, "e-mail the link to the user; false prints it")
	return c
}
