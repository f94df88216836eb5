package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

func (d *deps) checkCmd() *cobra.Command {
	var configPath string
	var strict bool
	c := &cobra.Command{
		Use:   "check",
		Short: "validate a configuration and compile its transforms",
		Long: `check validates a configuration and compiles every remote provider's transforms and every
sender, without starting anything: exit 0 and a one-line summary, or exit 1 listing every
problem with its path.`,
		Example: `  emfa check --config emfa.yaml
  emfa check --config emfa.yaml --strict   # unset ${NAME} variables are errors`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			return d.check(storeOptions{config: configPath, strict: strict})
		},
	}
	configVar(c.Flags(), &configPath, "configuration `FILE` (default: the embedded default)")
	// --strict: an unset ${NAME} is an error, as for serve (default: a warning, so a
	// configuration can be checked where its secrets are not).
	c.Flags().BoolVar(&strict, "strict", false, "treat an unset ${NAME} as an error")
	return c
}

func (d *deps) check(o storeOptions) error {
	stdout, stderr := d.stdout, d.stderr
	// A file with problems is checked on as far as it decoded (config.Inspect), so that
	// the checks below report theirs in the same run; its problems are reported with
	// them (Beside), and nothing runs on it.
	// The embedded default is checked so too (inspect): it stopped at its load's problems.
	var cfg *config.Config
	var err error
	if o.config != "" {
		cfg, err = config.Inspect(o.config, o.configOptions(forReading))
	} else {
		o.inspect = true
		cfg, err = loadConfig(o, forReading, stderr)
	}
	if cfg == nil {
		if inv := (*config.Invalid)(nil); errors.As(err, &inv) {
			for _, w := range inv.Warnings {
				fmt.Fprintln(stderr, "warning:", w)
			}
		}
		return err
	}
	// Every warning is said where it is in the file, in the file's order, whichever check
	// found it; those of no line (the environment's, the storage's) first.
	warnings := slices.Clone(cfg.Warnings)
	defer func() {
		for _, w := range inFileOrder(cfg.Source, warnings) {
			fmt.Fprintln(stderr, "warning:", w)
		}
	}()
	for _, w := range storageWarnings(cfg) {
		warnings = append(warnings, "storage: "+w)
	}
	var errs config.Errors
	// The DSN is read as serve would read it, without connecting: a malformed one is found
	// here, not at start-up (where its secret is set).
	if _, driverBad := cfg.ProblemAt("storage.driver"); !cfg.Unset("storage.dsn") && !driverBad {
		if err := checkDSN(cfg.Storage.Driver, cfg.Storage.DSN.Reveal()); err != nil {
			errs = append(errs, cfg.Annotate(&config.FieldError{Path: "storage.dsn", Msg: err.Error()}).(config.Errors)...)
		}
	}
	// Compile every remote provider's transforms, so a CEL error is found here and not at
	// the first login.
	transforms := 0
	for i, p := range cfg.Providers {
		if _, bad := cfg.ProblemAt(fmt.Sprintf("providers[%d].remote", i)); p.Engine != config.EngineRemote || engineUnknown(cfg, i) || bad {
			continue // its problems name a path of their own (providers[0] (a).remote): none would follow from it
		}
		w, ws, err := remoteWebhook(cfg, i)
		warnings = append(warnings, ws...)
		if err != nil {
			errs = append(errs, prefixed("", err)...)
			continue
		}
		for _, r := range w.Resources {
			transforms += min(1, len(r.Transform.Outgoing)) + min(1, len(r.Transform.Incoming))
		}
		for _, steps := range w.Lifecycle {
			for _, st := range steps {
				transforms += min(1, len(st.Transform.Outgoing)) + min(1, len(st.Transform.Incoming)) + min(1, len(st.ForEach)) + min(1, len(st.NextPage))
			}
		}
	}
	// Build every sender too (a malformed account SID, a gateway body that does not
	// compile), without sending anything.
	probe := &env{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	// Each builtin provider's section is decoded and checked by its factor types.
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineBuiltin || engineUnknown(cfg, i) {
			continue
		}
		bo := probe.builtinOptions(i)
		bo.Senders = followingFrom(cfg, bo.Senders)
		ws, err := builtin.Check(bo)
		for _, msg := range ws {
			warnings = append(warnings, located(cfg, msg))
		}
		if err := cfg.Annotate(err); err != nil {
			errs = append(errs, err.(config.Errors)...)
		}
	}
	// The self-service page can enroll each type it offers (the types say which).
	if err := selfServiceCapabilities(cfg); err != nil {
		errs = append(errs, err.(config.Errors)...)
	}
	// Its invitations, each a way into its user's account, go where its sender puts them,
	// as a factor's codes do (builtin.Check warns of those).
	if d, ok := cfg.DeliveryNamed(cfg.SelfService.Mail.Sender); cfg.SelfService.Enabled && ok && strings.EqualFold(d.Type, config.DeliveryLog) {
		warnings = append(warnings, located(cfg, "selfService.mail.sender: a log sender: activation links are written to the log, for development only"))
	}
	// Each provider's policy compiles, as serve compiles it at start.
	for i, p := range cfg.Providers {
		if _, err := probe.policy(p); err != nil {
			errs = append(errs, cfg.Annotate(&config.FieldError{Path: fmt.Sprintf("providers[%d].policy", i), Msg: err.Error()}).(config.Errors)...)
		}
	}
	// The OAuth signing key parses, and the TLS files load, as serve reads them (a key
	// file that does not exist yet is created at start, so it is not an error here).
	if o := cfg.Server.Auth.OAuth; o != nil && o.IssuesTokens() {
		if o.SigningKey != "" && !cfg.Unset("server.auth.oauth.signingKey") {
			if _, err := adapter.ParseSigningKey([]byte(o.SigningKey.Reveal())); err != nil {
				errs = append(errs, cfg.Annotate(&config.FieldError{Path: "server.auth.oauth.signingKey", Msg: err.Error()}).(config.Errors)...)
			}
		} else if f := o.SigningKeyFile; f != "" {
			if _, err := os.Stat(f); err == nil {
				if _, err := adapter.SigningKeyFile(f); err != nil {
					errs = append(errs, cfg.Annotate(&config.FieldError{Path: "server.auth.oauth.signingKeyFile", Msg: err.Error()}).(config.Errors)...)
				}
			}
		}
	}
	errs = append(errs, tlsProblems(cfg)...)
	for _, name := range slices.Sorted(maps.Keys(cfg.Delivery)) {
		if cfg.Unset("delivery." + name) {
			continue // its secret is missing (warned about): the sender cannot be built here
		}
		if _, err := probe.newSender(cfg.Delivery[name]); err != nil {
			errs = append(errs, cfg.Annotate(&config.FieldError{Path: "delivery." + name, Msg: err.Error()}).(config.Errors)...)
		}
	}
	for _, c := range probe.closers {
		c.Close()
	}
	if err := cfg.Beside(errs); err != nil {
		if o.config == "" {
			return embeddedProblems(embeddedDataDir(), err) // as serve words them: no line of a file the operator has
		}
		return err
	}
	caps := 0
	for _, p := range cfg.Providers {
		caps += len(p.Capabilities)
	}
	fmt.Fprintf(stdout, "ok: %s: %s, %s, %s compiled, storage %s, listen %s\n", cfg.Source,
		count(len(cfg.Providers), "provider", "providers"), count(caps, "capability", "capabilities"),
		count(transforms, "transform", "transforms"), cfg.Storage.Driver, cfg.Server.Listen)
	return nil
}

// engineUnknown reports whether providers[i]'s engine is not known for sure: its key
// did not load (misspelt, not a string), and the engine checked would be the default's.
func engineUnknown(cfg *config.Config, i int) bool {
	_, ok := cfg.ProblemAt(fmt.Sprintf("providers[%d].engine", i))
	return ok
}

// followingFrom is senders for a configuration that may have had problems loading
// (config.Inspect): a sender a factor names that cannot be found or built, where its
// section under delivery had a problem (delivery misspelt, a sender's key that did not
// decode), says that it may follow from that problem, which is reported too.
func followingFrom(cfg *config.Config, senders builtin.Senders) builtin.Senders {
	return func(name string) (delivery.Sender, error) {
		s, err := senders(name)
		if name == "" || (err == nil && s != nil) {
			return s, err
		}
		line, ok := cfg.ProblemAt("delivery." + name)
		if !ok {
			return s, err
		}
		if err == nil {
			err = errors.New(cfg.NoSender(name))
		}
		if line == 0 { // an EMFA_* variable's, say
			return nil, fmt.Errorf("%w (this may follow from the problem of delivery)", err)
		}
		return nil, fmt.Errorf("%w (this may follow from the problem of delivery at line %d)", err, line)
	}
}

// tlsProblems are those of the TLS files server.tls and admin.tls name (a certificate
// that is not there, a key that does not match), each at its line, as serve would meet
// them: check reports them, and serve refuses them before it touches the store.
func tlsProblems(cfg *config.Config) config.Errors {
	var errs config.Errors
	for _, sec := range []struct {
		path string
		t    *config.TLS
	}{{"server.tls", cfg.Server.TLS}, {"admin.tls", cfg.Admin.TLS}} {
		if sec.t == nil || cfg.Unset(sec.path) {
			continue
		}
		if _, err := newTLSSettingsAt(sec.path, sec.t, nil); err != nil {
			// Its errors name their key already (server.tls, server.tls.clientCA).
			path, msg, ok := strings.Cut(err.Error(), ": ")
			if !ok || !strings.HasPrefix(path, sec.path) {
				path, msg = sec.path, err.Error()
			}
			errs = append(errs, cfg.Annotate(&config.FieldError{Path: path, Msg: msg}).(config.Errors)...)
		}
	}
	return errs
}

// count is n and the noun in its number: "1 capability", "3 capabilities".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// inFileOrder sorts warnings by their line in source ("SOURCE:N: …"), keeping the order
// of those on one line; the warnings of no line of it come first, as they were found.
func inFileOrder(source string, warnings []string) []string {
	line := func(w string) int {
		rest, ok := strings.CutPrefix(w, source+":")
		if !ok {
			return 0
		}
		digits, _, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(digits)
		if err != nil {
			return 0
		}
		return n
	}
	slices.SortStableFunc(warnings, func(a, b string) int { return cmp.Compare(line(a), line(b)) })
	return warnings
}

// located is an engine's warning "path: message" with where its path is (file and line),
// as its errors have; the warning as it is when its path is not one of the file's.
func located(cfg *config.Config, msg string) string {
	path, rest, ok := strings.Cut(msg, ": ")
	if !ok || strings.ContainsAny(path, " \t") {
		return msg
	}
	if err := cfg.Annotate(&config.FieldError{Path: path, Msg: rest}); err != nil {
		return err.Error()
	}
	return msg
}

// checkDSN reads dsn as the store of driver would.
func checkDSN(driver, dsn string) error {
	if driver == "postgres" {
		return postgres.CheckDSN(dsn)
	}
	return sqlite.CheckDSN(dsn)
}

// readsOrRemoves are the store commands that run, with a warning, on a store sealed with
// a key the keyring lacks: they seal nothing, and with a key lost for good they are how
// its factors are found and removed.
var readsOrRemoves = map[string]bool{
	"users list": true, "users show": true, "users delete": true, "users disable": true,
	"factors list": true, "factors delete": true, "factors disable": true, "audit": true,
}

// readsOnly are the store commands that only read: they open a store that exists and
// never make one. A mistyped storage.dsn (or a relative one run from another folder)
// would otherwise be a new, empty, migrated database, read as an empty trail or no users
// with exit 0 — and left behind.
var readsOnly = map[string]bool{
	"users list": true, "users show": true, "factors list": true, "audit": true, "tokens list": true,
	"clients list": true, "sync status": true, "sync pending": true, "sync dead-letters list": true,
}

// storeCmd makes c a command that works on the store: it takes --config and --init, and
// run gets the opened env. Arguments and flags are checked (c.Args) before anything opens.
func (d *deps) storeCmd(c *cobra.Command, run func(ctx context.Context, e *env, args []string) error) *cobra.Command {
	var o storeOptions
	configVar(c.Flags(), &o.config, "configuration `FILE` (default: the embedded default, data in ./emfa-data or $EMFA_DATA_DIR)")
	c.Flags().BoolVar(&o.init, "init", false, "create the default data directory and its encryption key if there is none (serve does this itself)")
	c.RunE = func(c *cobra.Command, args []string) error {
		o.keyLossOK = readsOrRemoves[strings.TrimPrefix(c.CommandPath(), "emfa ")]
		o.readOnly = readsOnly[strings.TrimPrefix(c.CommandPath(), "emfa ")]
		e, err := d.openEnv(c.Context(), o, forAdmin)
		if err != nil {
			return err
		}
		defer e.Close()
		if d.opened != nil {
			d.opened()
		}
		if err := run(c.Context(), e, args); err != nil {
			return removedStore(c.Context(), e, err)
		}
		return nil
	}
	return c
}

// exactly is the check of a command that takes n arguments, named what.
func exactly(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n || (n > 0 && strings.TrimSpace(args[0]) == "") {
			return usageError{strings.TrimPrefix(c.CommandPath(), "emfa ") + " needs " + what}
		}
		return nil
	}
}

// atMostOne refuses more than one argument as a usage error, naming what.
func atMostOne(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > 1 {
			return usageError{strings.TrimPrefix(c.CommandPath(), "emfa ") + " takes " + what}
		}
		return nil
	}
}

func (d *deps) usersCmd() *cobra.Command {
	list := d.usersListCmd()
	var profile struct {
		email, phone, country, displayName string
		groups                             []string
		disabled                           bool
	}
	add := d.userWriteCmd(&cobra.Command{
		Use: "add NAME", Short: "add a user",
		Example: "  emfa users add alice --config emfa.yaml\n" +
			"  emfa users add bob --email bob@example.com --phone +15550100123 --group sms-allowed --disabled --config emfa.yaml",
		Args: exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, _ *env, m *lifecycle.Manager, args []string) error {
		name := args[0]
		// The rule Verify's requests are held to: a name outside it could never sign in.
		if why := provider.CheckUsername(name); why != "" {
			return usageError{why}
		}
		// And a new user's in the admin API (spaces around a name are a paste's, never the
		// directory's; no invisible or bidirectional control character; NFC).
		if err := lifecycle.CheckNewName(name); err != nil {
			return usageError{fmt.Sprintf("username %q: %s", name, err.Msg)}
		}
		in := lifecycle.UserInput{Name: name}
		for _, f := range []struct {
			to **string
			v  string
		}{{&in.Email, profile.email}, {&in.Phone, profile.phone}, {&in.Country, profile.country}, {&in.DisplayName, profile.displayName}} {
			if f.v != "" {
				*f.to = &f.v
			}
		}
		if len(profile.groups) > 0 {
			in.Groups = &profile.groups
		}
		state := lifecycle.StateName(profile.disabled)
		in.State = &state
		if _, err := m.CreateUser(ctx, cliActor, in); err != nil {
			if le := (*lifecycle.Error)(nil); errors.As(err, &le) && le.Code == "user_exists" {
				return errors.New(le.Msg)
			}
			return profileFlagError(err)
		}
		if profile.disabled {
			fmt.Fprintf(d.stdout, "added user %s (disabled)\n", name)
		} else {
			fmt.Fprintf(d.stdout, "added user %s\n", name)
		}
		return nil
	})
	add.Flags().StringVar(&profile.email, "email", "", "the user's e-mail `ADDRESS` (an e-mail factor's default)")
	add.Flags().StringVar(&profile.phone, "phone", "", "the user's phone `NUMBER`: E.164, +15550100123, or national with --country or lifecycle.defaultCountry")
	add.Flags().StringVar(&profile.country, "country", "", "the user's `COUNTRY` (ISO 3166-1 alpha-2: GB, DE): its national phone numbers are read as that country's")
	add.Flags().StringVar(&profile.displayName, "display-name", "", "the user's display `NAME`")
	add.Flags().StringArrayVar(&profile.groups, "group", nil, "a `GROUP` the user is in (repeat for more)")
	add.Flags().BoolVar(&profile.disabled, "disabled", false, "create the user disabled: no enrollments, every sign-in fails, until enabled")
	del := d.userWriteCmd(&cobra.Command{
		Use: "delete NAME", Short: "delete a user and its factors", Example: "  emfa users delete alice --config emfa.yaml",
		Args: exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error {
		if err := m.DeleteUser(ctx, cliActor, args[0]); err != nil {
			return userErr(args[0], err)
		}
		fmt.Fprintf(d.stdout, "deleted user %s and its factors\n", args[0])
		return nil
	})
	state := func(verb, short string) *cobra.Command {
		return d.userWriteCmd(&cobra.Command{
			Use: verb + " NAME", Short: short, Example: "  emfa users " + verb + " alice --config emfa.yaml",
			Args: exactly(1, "exactly one NAME"),
		}, func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error {
			if _, err := m.SetUserState(ctx, cliActor, args[0], verb == "disable"); err != nil {
				return userErr(args[0], err)
			}
			fmt.Fprintf(d.stdout, "%sd user %s\n", verb, args[0])
			return nil
		})
	}
	return group("users", "manage users (add, list, show, set, delete, disable, enable, invite)", `  emfa users add alice --config emfa.yaml
  emfa users list --config emfa.yaml
  emfa users set alice --phone +15550100123 --config emfa.yaml
  emfa users invite alice --config emfa.yaml`,
		add, list, d.usersShowCmd(), d.usersSetCmd(), del, state("disable", "disable a user: Verify is offered none of its factors"), state("enable", "enable a disabled user"),
		d.usersInviteCmd())
}

// managerCmd is storeCmd for a command carried out by lifecycle.Manager, as the admin
// API's requests are (with the actor cli): run gets the manager over the store.
func (d *deps) managerCmd(c *cobra.Command, run func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error) *cobra.Command {
	return d.storeCmd(c, func(ctx context.Context, e *env, args []string) error {
		m, err := e.manager(nil, nil, nil)
		if err != nil {
			return err
		}
		return run(ctx, e, m, args)
	})
}

// userWriteCmd is managerCmd for a command that creates, disables, enables or deletes a
// user: as the admin API's, its manager queues the change's propagations to the vendors
// in the change's commit (cliPropagation), for the server's workers to carry out.
func (d *deps) userWriteCmd(c *cobra.Command, run func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error) *cobra.Command {
	return d.storeCmd(c, func(ctx context.Context, e *env, args []string) error {
		prop, err := e.cliPropagation()
		if err != nil {
			return err
		}
		m, err := e.manager(nil, nil, prop)
		if err != nil {
			return err
		}
		return run(ctx, e, m, args)
	})
}

// cliPropagation queues a command's user changes for the vendors emfa serve propagates
// to: the remote providers whose configuration declares lifecycle calls (serve runs their
// workers whenever there is one, startSync), and orders them against the directory's
// events, as the admin API's are. nil when there is neither a vendor nor a directory
// source: nothing is queued, and there is nothing to order against.
func (e *env) cliPropagation() (lifecycle.Propagation, error) {
	names, err := e.lifecycleTargets()
	if err != nil || len(names) == 0 && !e.cfg.Sync.Enabled() {
		return nil, err
	}
	q, err := e.cliQueue() // sync.go
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		q.Propagators = append(q.Propagators, queuedTo(n))
	}
	return q.Init(), nil
}

// lifecycleTargets are the credential prefixes of the remote providers whose
// configuration declares lifecycle calls: those emfa serve propagates to (propagators).
func (e *env) lifecycleTargets() ([]string, error) {
	var out []string
	for i, p := range e.cfg.Providers {
		if p.Engine != config.EngineRemote {
			continue
		}
		w, _, _, err := e.webhooks.checked(e.cfg, i)
		if err != nil {
			return nil, err
		}
		if len(w.Lifecycle) > 0 {
			out = append(out, p.CredentialPrefix)
		}
	}
	return out, nil
}

// queuedTo is a vendor's propagator as a command run beside the server knows it: the
// name of its propagations in the queue (a remote engine's PropagationTarget, the
// provider's credential prefix). The command queues them; the server carries them out.
type queuedTo string

func (t queuedTo) PropagationTarget() string { return string(t) }

func (t queuedTo) Propagate(context.Context, provider.LifecycleEvent) error {
	return fmt.Errorf("propagations to %s are carried out by emfa serve", string(t))
}

// userErr is the CLI's wording of a refusal of a change to user name.
func userErr(name string, err error) error {
	if notFound(err) {
		return fmt.Errorf("no user %q", name)
	}
	return cliError(err)
}

// notFound reports whether err says the user or factor a command names does not exist,
// in the store's words or lifecycle's.
func notFound(err error) bool {
	le := (*lifecycle.Error)(nil)
	return errors.Is(err, store.ErrNotFound) || errors.As(err, &le) && le.Kind == lifecycle.NotFound
}

// cliError is a refusal of lifecycle.Manager worded for the command line: its message,
// without the admin API's code; an invalid value's names the field.
func cliError(err error) error {
	if le := (*lifecycle.Error)(nil); errors.As(err, &le) {
		if le.Kind == lifecycle.Invalid && le.Field != "" {
			return errors.New(le.Field + ": " + le.Msg)
		}
		return errors.New(le.Msg)
	}
	return err
}

func (d *deps) factorsCmd() *cobra.Command {
	var user string
	var asJSON bool
	list := d.storeCmd(&cobra.Command{
		Use: "list --user NAME", Short: "list a user's factors: when each was created and last used, failure counts and lockouts",
		Example: "  emfa factors list --user alice --config emfa.yaml\n  emfa factors list --user alice --json --config emfa.yaml",
		Args:    noArgsNeeding(&user, "factors list needs --user"),
	}, func(ctx context.Context, e *env, _ []string) error {
		m, err := e.manager(nil, nil, nil)
		if err != nil {
			return err
		}
		// The admin API's listing (GET /users/{user}/factors): the same states, last uses
		// and masked destinations.
		factors, err := m.ListFactors(ctx, user)
		if err != nil {
			return userErr(user, err)
		}
		if asJSON {
			for _, f := range factors {
				if err := encodeJSON(d.stdout, f); err != nil {
					return err
				}
			}
			return nil
		}
		at := func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.UTC().Format(lifecycle.AuditTimeFormat)
		}
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATE\tCREATED\tLAST USED\tFAILURES\tLOCKED UNTIL")
		for _, f := range factors {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", f.ID, f.Type, f.Label, f.State, at(&f.Created), at(f.LastUsed),
				f.Failures, at(f.LockedUntil))
		}
		return tw.Flush()
	})
	list.Flags().StringVar(&user, "user", "", "the user's `NAME`")
	list.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, as GET /admin/v1/users/{user}/factors's factors")
	// Each command is the admin API's (lifecycle.Manager, actor "cli"): the same rules, the
	// change and its record (the action factors.<verb>, the factor's owner) in one commit,
	// a refusal recorded as FAILED.
	one := func(verb, done, short string, apply func(ctx context.Context, m *lifecycle.Manager, owner, id string) error) *cobra.Command {
		return d.storeCmd(&cobra.Command{
			Use: verb + " ID", Short: short, Example: "  emfa factors " + verb + " jfw7ok7g6ow73s3knahgrwy4xu --config emfa.yaml",
			Args: exactly(1, "exactly one ID"),
		}, func(ctx context.Context, e *env, args []string) error {
			id := args[0]
			owner, err := e.factorOwner(ctx, id)
			if err == nil {
				var m *lifecycle.Manager
				if m, err = e.manager(nil, nil, nil); err == nil {
					err = apply(ctx, m, owner, id)
				}
			}
			if notFound(err) {
				return fmt.Errorf("no factor %q", id)
			}
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(d.stdout, "%s factor %s\n", done, id)
			return nil
		})
	}
	toState := func(disabled bool) func(context.Context, *lifecycle.Manager, string, string) error {
		return func(ctx context.Context, m *lifecycle.Manager, owner, id string) error {
			_, err := m.SetFactorState(ctx, cliActor, owner, id, disabled)
			return err
		}
	}
	del := one("delete", "deleted", "delete a factor", func(ctx context.Context, m *lifecycle.Manager, owner, id string) error {
		return m.DeleteFactor(ctx, cliActor, owner, id)
	})
	// A pending factor becomes active only through its own activation, never by hand, and
	// is withdrawn by deleting it.
	disable := one("disable", "disabled", "disable a factor", toState(true))
	enable := one("enable", "enabled", "enable a disabled factor", toState(false))
	unlock := one("unlock", "unlocked", "clear a factor's lockout and failure count", func(ctx context.Context, m *lifecycle.Manager, owner, id string) error {
		_, err := m.UnlockFactor(ctx, cliActor, owner, id) // the admin API's, with its record
		return err
	})
	return group("factors", "manage factors (add, list, delete, disable, enable, unlock, resync)", `  emfa factors add totp --user alice --qr --config emfa.yaml
  emfa factors list --user alice --config emfa.yaml
  emfa factors unlock jfw7ok7g6ow73s3knahgrwy4xu --config emfa.yaml`,
		d.factorsAddCmd(), list, del, disable, enable, unlock, d.factorsResyncCmd())
}

// totpCmd prints the current code of a seed: for tests, demos and checking a token.
func (d *deps) totpCmd() *cobra.Command {
	var secret, algorithm string
	var digits, period int
	var at int64
	code := &cobra.Command{
		Use:   "code --secret B32",
		Short: "print the TOTP code of a seed (tests, demos, checking a token)",
		Example: `  emfa totp code --secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
  emfa totp code --secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --digits 8 --time 59`,
		Args: noArgsNeeding(&secret, "totp code needs --secret"),
		RunE: func(c *cobra.Command, _ []string) error {
			seed, err := builtin.DecodeSecret(secret)
			if err != nil {
				return err
			}
			alg, err := builtin.ParseAlgorithm(algorithm)
			if err != nil {
				return usageError{"--algorithm: " + err.Error()}
			}
			if digits != 6 && digits != 8 {
				// As a TOTP factor's: a 7-digit code is one no emfa factor would take.
				return usageError{"--digits must be 6 or 8"}
			}
			if period <= 0 {
				return usageError{"--period must be positive"}
			}
			// Given, --time is the time, the epoch included: 0 was taken for "not given"
			// and printed now's code.
			t := at
			if !c.Flags().Changed("time") {
				t = d.now().Unix()
			} else if t < 0 {
				return usageError{fmt.Sprintf("--time must be a Unix time, 0 or later, not %d", t)}
			}
			fmt.Fprintln(d.stdout, builtin.HOTP(alg, seed, uint64(builtin.TOTPStep(t, period)), digits))
			return nil
		},
	}
	f := code.Flags()
	f.StringVar(&secret, "secret", "", "Base32 seed")
	f.StringVar(&algorithm, "algorithm", "SHA1", "SHA1, SHA256 or SHA512")
	f.IntVar(&digits, "digits", 6, "6 or 8")
	f.IntVar(&period, "period", 30, "seconds per step")
	f.Int64Var(&at, "time", 0, "Unix time (default: now)")
	once(f, true, "secret")
	return group("totp", "TOTP codes", "  emfa totp code --secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", code)
}

// printJSON prints v indented, URIs as they are (an otpauth URI's & not escaped to \u0026).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// configVar declares --config, the configuration FILE, into p. Given, it must name one:
// `--config "$EMFA_CONFIG"` with the variable unset read as no --config at all, so check
// passed the embedded default (exit 0) in place of the file meant, and a store command
// or serve used ./emfa-data. Empty, it is a usage error naming the flag.
func configVar(fs *pflag.FlagSet, p *string, usage string) {
	fs.Var((*configFlag)(p), "config", usage)
}

// once makes each flag named of fs refuse a second value, a usage error naming it
// (run's flag error function turns a *repeatedFlag into its own message): pflag takes
// the last, so `tokens create --scope read --scope write`, a wrapper's default then the
// caller's, created a write token without a word, and two --secret values used the
// second. A secret's values are not repeated in the refusal.
func once(fs *pflag.FlagSet, secret bool, names ...string) {
	for _, name := range names {
		f := fs.Lookup(name)
		f.Value = &onceValue{Value: f.Value, name: name, secret: secret}
	}
}

// onceValue is a flag's value that takes one value.
type onceValue struct {
	pflag.Value
	name   string
	secret bool
	first  *string
}

func (o *onceValue) Set(v string) error {
	if o.first != nil {
		return &repeatedFlag{name: o.name, first: *o.first, second: v, secret: o.secret}
	}
	o.first = &v
	return o.Value.Set(v)
}

// repeatedFlag is the refusal of a flag given twice.
type repeatedFlag struct {
	name, first, second string
	secret              bool
}

func (e *repeatedFlag) Error() string {
	if e.secret {
		return fmt.Sprintf("--%s given twice: give it once", e.name)
	}
	return fmt.Sprintf("--%s given twice (%q, then %q): give it once", e.name, e.first, e.second)
}

// configFlag is --config's value.
type configFlag string

func (f *configFlag) String() string { return string(*f) }
func (f *configFlag) Type() string   { return "string" }

func (f *configFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("empty (an unset variable?): name the configuration FILE, or leave --config out for the embedded default")
	}
	*f = configFlag(v)
	return nil
}
