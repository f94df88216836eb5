package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// factorsAddCmd is `emfa factors add TYPE --user NAME [type's flags]`: one subcommand per
// factor type, whose fields (its enrollment's inputs) are its flags. The builtin engine's
// registry knows them all, so a new factor type needs nothing here.
func (d *deps) factorsAddCmd() *cobra.Command {
	types := strings.Join(builtin.Types(), ", ")
	add := &cobra.Command{
		Use:   "add TYPE --user NAME",
		Short: "add a factor of a type: " + types,
		Example: `  emfa factors add totp --user alice --name "Alice's phone" --qr
  emfa factors add smsotp --user alice --phone +15551230123`,
		// The type's own flags follow it; they are not add's.
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageError{"factors add needs a type: " + types}
			case args[0] == "-h" || args[0] == "--help":
				return c.Help()
			case strings.HasPrefix(args[0], "-"):
				return usageError{"factors add needs a type before its flags: " + types}
			}
			return usageError{fmt.Sprintf("unknown factor type %q (want %s)", args[0], types)}
		},
	}
	for _, typ := range builtin.Types() {
		add.AddCommand(d.addFactorCmd(typ))
	}
	return add
}

// exampleValues are what the help's example gives a type's required fields, so that it
// runs as pasted.
var exampleValues = map[string]string{"phone": "+15551230123", "email": "alice@example.com",
	"question": `"Your first pet's name?"`, "answer": "Rex"}

// addFactorCmd is `emfa factors add typ`.
func (d *deps) addFactorCmd(typ string) *cobra.Command {
	fields, _ := builtin.FieldsOf(typ)
	var user, activation string
	var qr bool
	usage := typ + " --user NAME"
	// The example gives the required fields, and the lists that pair with a required one
	// (question's --answer).
	example := "  emfa factors add " + typ + " --user alice"
	pairs := slices.ContainsFunc(fields, func(f builtin.Field) bool { return f.Required && f.Kind == builtin.FieldList })
	for _, f := range fields {
		if f.Required || pairs && f.Kind == builtin.FieldList {
			example += " --" + f.Name + " " + cmp.Or(exampleValues[f.Name], strings.ToUpper(f.Name))
		}
		arg := "--" + f.Name + " " + cmp.Or(f.Meta, strings.ToUpper(f.Name))
		if f.Kind == builtin.FieldList {
			arg += "..."
		}
		if !f.Required {
			arg = "[" + arg + "]"
		}
		usage += " " + arg
	}
	c := &cobra.Command{
		Use:     usage,
		Short:   "add a " + typ + " factor; prints it as JSON (shown once: seeds, activation codes)",
		Example: example + " --config emfa.yaml",
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{"factors add takes no arguments after the type"}
			}
			if user == "" {
				return usageError{"factors add needs --user"}
			}
			for _, f := range fields {
				if f.Required && !c.Flags().Changed(f.Name) {
					return usageError{fmt.Sprintf("factors add %s needs --%s", typ, f.Name)}
				}
			}
			return nil
		},
	}
	c.Flags().StringVar(&user, "user", "", "the user's `NAME`")
	c.Flags().BoolVar(&qr, "qr", false, "also draw the factor's URI (otpauth, registration) as a QR code on stderr")
	// The modes the type takes (builtin.Activation): passcode, its first code activates it
	// (emfa's admin API); onFirstUse, its first successful sign-in does.
	activationUsage := "leave the factor pending: " + strings.Join(builtin.ActivationModes(typ), " or ") + "; default active at once"
	switch {
	case builtin.ActivatedByDevice(typ):
		activationUsage = "none: a " + typ + " factor waits for its device"
	case len(builtin.ActivationModes(typ)) == 0:
		activationUsage = "none: a " + typ + " factor is active at once"
	}
	c.Flags().StringVar(&activation, "activation", "", activationUsage)
	values := declareFields(c.Flags(), fields)
	return d.storeCmd(c, func(ctx context.Context, e *env, _ []string) error {
		if err := e.exposed(typ); err != nil {
			return err
		}
		m, err := e.cliManager()
		if err != nil {
			return err
		}
		// The admin API's enrollment (lifecycle.Manager, actor "cli"): its checks of the
		// label and the type's fields, the factor and its record in one commit, a refusal
		// recorded FAILED. The command's default is active at once, not the API's passcode.
		v := values()
		label := v.Get("name")
		v.Del("name")
		if activation == "" && !builtin.ActivatedByDevice(typ) {
			activation = lifecycle.ActivationImmediate
		}
		enrolled, err := m.EnrollFactor(ctx, cliActor, user, lifecycle.Enrollment{Type: typ, Label: label,
			Activation: activation, Params: params(fields, v)})
		if err != nil {
			return enrollError(typ, user, err)
		}
		f := enrolled.Factor
		out := map[string]any{"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State}
		maps.Copy(out, enrolled.Output)
		delete(out, "qrCode") // the admin API's PNG: --qr draws the URI on the terminal instead
		printingOnce()        // tokens.go
		if err := printJSON(d.stdout, out); err != nil {
			// Its seed or activation code shown to nobody, the factor is of no use, and
			// left active Verify offered it; deleted, the same command can run again.
			ctx, cancel := undoContext(ctx) // tokens.go
			defer cancel()
			if derr := m.DeleteFactor(ctx, cliActor, user, f.ID); derr != nil {
				return fmt.Errorf("factor %s was created but not printed (%v), and deleting it failed (%v): "+
					"delete it (emfa factors delete %s) and add it again", f.ID, err, cliError(derr), f.ID)
			}
			return fmt.Errorf("factor %s was created but not printed (%v): it is deleted; add it again", f.ID, err)
		}
		if qr {
			return printQR(d.stderr, typ, enrolled.Output)
		}
		return nil
	})
}

// params is an enrollment's fields given as flags, as the admin API's JSON carries them.
func params(fields []builtin.Field, v url.Values) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for _, f := range fields {
		vals, ok := v[f.Name]
		if !ok {
			continue
		}
		var raw []byte
		switch f.Kind {
		case builtin.FieldList:
			raw, _ = json.Marshal(vals) // strings: no error
		case builtin.FieldInt:
			raw = []byte(vals[0]) // an integer flag's value, which pflag has checked
		default:
			raw, _ = json.Marshal(vals[0])
		}
		out[f.Name] = raw
	}
	return out
}

// enrollError words lifecycle's refusal of an enrollment for the command line: an invalid
// value names its flag; the rest as the user commands word them.
func enrollError(typ, user string, err error) error {
	var le *lifecycle.Error
	if !errors.As(err, &le) || le.Kind != lifecycle.Invalid {
		return userErr(user, err)
	}
	switch {
	case le.Field == "label":
		return fmt.Errorf("factors add %s: --name: %s", typ, le.Msg)
	case strings.HasPrefix(le.Field, "params."):
		return fmt.Errorf("factors add %s: --%s: %s", typ, strings.TrimPrefix(le.Field, "params."), le.Msg)
	}
	return fmt.Errorf("factors add %s: %s", typ, le.Msg)
}

// declareFields declares an enrollment's fields as flags, and returns what reads the
// values given (only the flags set, so absent ones take the type's defaults).
func declareFields(fs *pflag.FlagSet, fields []builtin.Field) func() url.Values {
	for _, f := range fields {
		usage := f.Usage
		if f.Meta != "" {
			usage = "`" + f.Meta + "`: " + usage
		}
		switch f.Kind {
		case builtin.FieldInt:
			fs.Int64(f.Name, 0, usage)
		case builtin.FieldList:
			fs.StringArray(f.Name, nil, usage+" (repeatable)")
		default:
			fs.String(f.Name, "", usage)
			if f.Secret { // an imported seed given twice: which is the token's?
				once(fs, true, f.Name)
			}
		}
	}
	return func() url.Values {
		v := url.Values{}
		for _, f := range fields {
			fl := fs.Lookup(f.Name)
			if !fl.Changed {
				continue
			}
			if f.Kind == builtin.FieldList {
				list, _ := fs.GetStringArray(f.Name)
				v[f.Name] = slices.Clone(list)
				continue
			}
			v.Set(f.Name, fl.Value.String())
		}
		return v
	}
}

// printQR draws every URI an enrollment printed (keys ending in URI: otpauthURI,
// registrationURI) as a QR code, for a phone to scan off the terminal.
func printQR(w io.Writer, typ string, output map[string]any) error {
	var keys []string
	for k, v := range output {
		if s, ok := v.(string); ok && strings.HasSuffix(k, "URI") && s != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		fmt.Fprintf(w, "emfa factors: a %s factor has no URI to show as a QR code\n", typ)
		return nil
	}
	slices.Sort(keys)
	for _, k := range keys {
		code, err := terminalQR(output[k].(string))
		if err != nil {
			return fmt.Errorf("%s as a QR code: %w", k, err)
		}
		fmt.Fprintf(w, "%s:\n%s", k, code)
	}
	return nil
}

// exposed refuses a type no builtin provider exposes, whatever the type: Verify would
// never be offered the factor (and a push device would find no device API to register
// with). The admin API and an import may pre-provision such a factor; the command line,
// used to try a factor out, says why it would not work.
func (e *env) exposed(typ string) error {
	if e.exposing(typ) >= 0 {
		return nil
	}
	if _, ok := builtin.FieldsOf(typ); !ok {
		return fmt.Errorf("unknown factor type %q (want %s)", typ, strings.Join(builtin.Types(), ", "))
	}
	return fmt.Errorf("no builtin provider in %s exposes the %s capability: add %s to a builtin provider's capabilities first",
		e.cfg.Source, typ, typ)
}

// enrollEngine is the builtin engine whose settings a new factor of typ takes: the first
// builtin provider exposing it (a replayed transcript's factors, which keep their IDs).
func (e *env) enrollEngine(typ string) (*builtin.Engine, error) {
	if err := e.exposed(typ); err != nil {
		return nil, err
	}
	return e.builtinEngine(e.exposing(typ))
}

// exposing is the index of the first builtin provider exposing typ, or -1.
func (e *env) exposing(typ string) int {
	return slices.IndexFunc(e.cfg.Providers, func(p config.Provider) bool {
		return p.Engine == config.EngineBuiltin && slices.ContainsFunc(p.Capabilities, func(c string) bool { return strings.EqualFold(c, typ) })
	})
}

// factorsResyncCmd is `emfa factors resync ID CODE1 CODE2`: an HOTP token that has run
// ahead of the look-ahead window is found again from two consecutive codes.
func (d *deps) factorsResyncCmd() *cobra.Command {
	return d.storeCmd(&cobra.Command{
		Use:     "resync ID CODE1 CODE2",
		Short:   "resynchronise an HOTP token that ran ahead of the window, from two consecutive codes",
		Example: "  emfa factors resync k3xq7m2c5b4rmh6h2yq3vvdq6u 520489 403154 --config emfa.yaml",
		Args:    exactly(3, "ID CODE1 CODE2 (two consecutive codes of the token)"),
	}, func(ctx context.Context, e *env, rest []string) error {
		id := rest[0]
		owner, err := e.factorOwner(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no factor %q", id)
		}
		if err != nil {
			return err
		}
		m, err := e.cliManager()
		if err != nil {
			return err
		}
		// The admin API's (lifecycle.Manager, actor "cli"): a success is recorded with the
		// counter it moves, in one commit; a refusal, which changes nothing, after it.
		_, next, err := m.ResyncFactor(ctx, cliActor, owner, id, rest[1:])
		if le := (*lifecycle.Error)(nil); errors.As(err, &le) {
			return errors.New(le.Msg)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(d.stdout, "resynchronised factor %s: the token's next counter is %d\n", id, next)
		return nil
	})
}
