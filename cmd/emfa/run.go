package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/provider/builtin"
)

// deps is what the command tree gets from its process instead of from package globals:
// its streams, its clock, and the hooks through which tests learn what serve does.
type deps struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// now is every engine's clock; tests give a fake one to reach expiry without sleeping.
	now func() time.Time
	// listening, when set, learns the address serve listens on.
	listening func(addr string)
	// swept, when set, learns the outcome of every sweep serve makes.
	swept func(builtin.Swept, error)
	// reload, when set, asks serve to reload as SIGHUP does; reloaded learns each outcome.
	reload   <-chan struct{}
	reloaded func(error)
	// traceExporter, when set, receives serve's spans instead of tracing.endpoint's
	// collector (tracing stays off without an endpoint).
	traceExporter sdktrace.SpanExporter
	// opened, when set, runs once serve has opened its store, before it locks it (or a
	// store command has, before it works on it); owned, once serve has locked it, before
	// the rest of its start: tests run other processes beside a start.
	opened, owned func()
}

// processDeps are the real process's.
func processDeps() deps {
	return deps{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, now: time.Now}
}

// usageError makes run print the command's usage and exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// errSilent fails a command whose output already said why.
var errSilent = errors.New("")

// exitStatus fails a command whose output already said why, with that exit status.
type exitStatus int

func (e exitStatus) Error() string { return "" }

// run is main without the process: it returns the exit code (0 ok, 1 failure, 2 usage).
func run(ctx context.Context, args []string, d deps) int {
	if d.now == nil {
		d.now = time.Now
	}
	if d.stdin == nil {
		d.stdin = strings.NewReader("")
	}
	root := newRoot(&d)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	name := commandName(cmd)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(d.stderr, "%s: %s\n\n", name, ue.msg)
		}
		fmt.Fprint(d.stderr, cmd.UsageString())
		return 2
	case errors.Is(err, errSilent): // the command has said why
		return 1
	}
	var status exitStatus
	if errors.As(err, &status) { // the command has said why
		return int(status)
	}
	msg := indent(err.Error())
	if !strings.HasPrefix(msg, "\n") {
		msg = " " + msg // one problem on the command's line; several under it
	}
	fmt.Fprintf(d.stderr, "%s:%s\n", name, msg)
	return 1
}

// badFlagValue is the refusal of a flag's value, saying what the flag accepts: pflag's
// own, `invalid argument "maybe" for "--strict" flag: strconv.ParseBool: parsing
// "maybe": invalid syntax`, named Go's parser instead. The value is repeated only for a
// boolean or a number (never a secret); a flag of its own kind (--config) says why.
func badFlagValue(e *pflag.InvalidValueError) string {
	f, v := e.GetFlag(), e.GetValue()
	name := "--" + f.Name
	switch f.Value.Type() {
	case "bool":
		return fmt.Sprintf("%s: %q is not true or false: write %s alone (true), %s=true or %s=false", name, v, name, name, name)
	case "int", "int64", "int32", "uint", "uint64":
		if errors.Is(e, strconv.ErrRange) {
			return fmt.Sprintf("%s: %q is out of range", name, v)
		}
		return fmt.Sprintf("%s: %q is not a whole number", name, v)
	}
	if cause := errors.Unwrap(e); cause != nil {
		return name + ": " + cause.Error()
	}
	return e.Error()
}

// commandName is how an error names the command: emfa and the top-level command
// ("emfa factors"), as it always has.
func commandName(c *cobra.Command) string {
	for c.HasParent() && c.Parent().HasParent() {
		c = c.Parent()
	}
	if !c.HasParent() {
		return "emfa"
	}
	return "emfa " + c.Name()
}

const rootLong = `emfa — an external-MFA provider for IBM Verify.

serve answers Verify's webhook calls; the other commands are the operator's tools and work
on the configured store directly. Without --config, commands use the embedded default:
SQLite under ./emfa-data (or $EMFA_DATA_DIR). Only serve creates that directory and its
secrets on first use; any other command refuses to start a new store unless given --init.

Exit status: 0 ok, 1 failure, 2 usage error.`

// newRoot builds the command tree around d.
func newRoot(d *deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "emfa",
		Short: "an external-MFA provider for IBM Verify",
		Long:  rootLong,
		Example: `  emfa serve                                  # on 127.0.0.1:8080, data in ./emfa-data
  emfa users add alice
  emfa factors add totp --user alice --qr
  emfa check --config emfa.yaml
  emfa completion bash > /etc/bash_completion.d/emfa`,
		SilenceErrors: true, // run reports errors and exit codes itself
		SilenceUsage:  true,
		Args:          noSubcommand,
		RunE: func(*cobra.Command, []string) error {
			return usageError{}
		},
	}
	root.SetIn(d.stdin)
	root.SetOut(d.stdout)
	root.SetErr(d.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		// pflag's message quotes the value given, a secret's too: a repeat says its own.
		if rep := (*repeatedFlag)(nil); errors.As(err, &rep) {
			return usageError{rep.Error()}
		}
		if bad := (*pflag.InvalidValueError)(nil); errors.As(err, &bad) {
			return usageError{badFlagValue(bad)}
		}
		return usageError{err.Error()}
	})
	root.AddCommand(d.serveCmd(), d.checkCmd(), d.usersCmd(), d.factorsCmd(), d.auditCmd(), d.totpCmd(),
		d.deviceCmd(), d.replayCmd(), d.transformCmd(), d.tokensCmd(), d.importCmd(), d.clientsCmd(), d.verifyCmd(), d.syncCmd(), versionCmd())
	// cobra's completion command, made here rather than at Execute so that it is a group
	// like the others: alone or with a shell it does not know, a usage error (exit 2), not
	// its help on stdout with exit 0, which a redirect into a completion file took for a
	// script.
	root.InitDefaultCompletionCmd()
	// cobra's help command, made here too: a topic it does not find is a usage error
	// naming it, not the help of the nearest command above it on stdout with exit 0.
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "completion":
			c.Example = "  emfa completion bash > /etc/bash_completion.d/emfa\n  source <(emfa completion zsh)"
			c.Args, c.RunE = noSubcommand, needSubcommand
		case "help":
			c.Run, c.RunE = nil, helpTopic
		}
	}
	return root
}

// helpTopic is the help command's RunE: the help of the command its arguments name, or a
// usage error when they name none.
func helpTopic(c *cobra.Command, args []string) error {
	cmd, rest, err := c.Root().Find(args)
	if err != nil || cmd == nil || len(rest) > 0 {
		msg := fmt.Sprintf("unknown help topic %q", strings.Join(args, " "))
		if cmd != nil && len(rest) > 0 {
			msg += didYouMean(cmd, rest[0])
		}
		return usageError{msg}
	}
	cmd.InitDefaultHelpFlag() // so that its help lists --help, as cobra's help command does
	return cmd.Help()
}

// group is a command made of subcommands: alone it is a usage error naming them.
func group(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Example: example, Args: noSubcommand,
		// A group has no flags of its own: the ones given with a mistyped subcommand belong
		// to the subcommand meant, so the error is about its name, not about them.
		FParseErrWhitelist: cobra.FParseErrWhitelist{UnknownFlags: true}}
	c.AddCommand(subs...)
	c.RunE = needSubcommand
	return c
}

// needSubcommand is a group's RunE: alone it is a usage error naming its subcommands.
func needSubcommand(c *cobra.Command, _ []string) error {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return usageError{c.Name() + " needs a subcommand: " + strings.Join(names, ", ")}
}

// noSubcommand refuses an argument where a subcommand was expected.
func noSubcommand(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if !c.HasParent() {
		return usageError{fmt.Sprintf("unknown command %q", args[0]) + didYouMean(c, args[0])}
	}
	return usageError{fmt.Sprintf("unknown %s subcommand %s", c.Name(), args[0]) + didYouMean(c, args[0])}
}

// didYouMean is " (did you mean NAME?)" for the subcommand of c nearest to arg, or "".
func didYouMean(c *cobra.Command, arg string) string {
	var names []string
	for _, s := range c.Commands() {
		names = append(names, s.Name())
	}
	if near := suggest.Nearest(arg, names); near != "" {
		return " (did you mean " + near + "?)"
	}
	return ""
}

// noArgs is the check of a command that takes no arguments.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{c.CommandPath()[len("emfa "):] + " takes no arguments"}
	}
	return nil
}

// noArgsNeeding is noArgs for a command that needs a flag: a usage error msg while
// *required is empty.
func noArgsNeeding(required *string, msg string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := noArgs(c, args); err != nil {
			return err
		}
		if *required == "" {
			return usageError{msg}
		}
		return nil
	}
}

// indent keeps a multi-line error (every config problem) readable under its prefix.
func indent(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}
