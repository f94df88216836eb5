package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// addFactor is `emfa factors add TYPE --user NAME [type's flags]`: the type's fields (its
// enrollment's inputs) are its flags, and the builtin engine's registry knows them all,
// so a new factor type needs nothing here.
func addFactor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	types := strings.Join(builtin.Types(), ", ")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError{"factors add needs a type: " + types}
	}
	typ := args[0]
	fields, ok := builtin.FieldsOf(typ)
	if !ok {
		return fmt.Errorf("unknown factor type %q (want %s)", typ, types)
	}
	fs := flag.NewFlagSet("factors add "+typ, flag.ContinueOnError)
	user := fs.String("user", "", "the user's name")
	activation := fs.String("activation", "", "leave the factor pending: passcode (its first code activates it: emfa's admin API) or onFirstUse (SMS, e-mail, voice); default active at once")
	values := builtin.DeclareFlags(fs, fields)
	return withEnv(ctx, fs, args[1:], stderr, func(e *env, rest []string) error {
		if len(rest) > 0 {
			return usageError{"factors add takes no arguments after the type"}
		}
		if *user == "" {
			return usageError{"factors add needs --user"}
		}
		v := values()
		for _, f := range fields {
			if f.Required && len(v[f.Name]) == 0 {
				return usageError{fmt.Sprintf("factors add %s needs --%s", typ, f.Name)}
			}
		}
		engine, err := e.enrollEngine(typ)
		if err != nil {
			return err
		}
		enrolled, err := engine.Enroll(ctx, builtin.Enrollment{Type: typ, User: *user, Values: v, Activation: *activation})
		if errors.Is(err, builtin.ErrInput) {
			return usageError{fmt.Sprintf("factors add %s: %v", typ, err)}
		}
		if err != nil {
			return userErr(*user, err)
		}
		f := enrolled.Factor
		out := map[string]any{"id": f.ID, "type": f.Type, "user": *user, "name": f.Label, "state": f.State}
		maps.Copy(out, enrolled.Output)
		return printJSON(stdout, out)
	})
}

// factorsAddUsage is the usage line of `emfa factors add` for every type, from its fields.
func factorsAddUsage() string {
	var b strings.Builder
	for _, typ := range builtin.Types() {
		fields, _ := builtin.FieldsOf(typ)
		fmt.Fprintf(&b, "  emfa factors add %-9s --user NAME", typ)
		for _, f := range fields {
			arg := "--" + f.Name + " " + cmpOr(f.Meta, strings.ToUpper(f.Name))
			if f.Kind == builtin.FieldList {
				arg += "..."
			}
			if !f.Required {
				arg = "[" + arg + "]"
			}
			b.WriteString(" " + arg)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// enrollEngine is the builtin engine whose settings a new factor of typ takes: the first
// builtin provider exposing it, else the first builtin provider (factors may be
// provisioned before a provider offers them).
func (e *env) enrollEngine(typ string) (*builtin.Engine, error) {
	first := -1
	for i, p := range e.cfg.Providers {
		if p.Engine != config.EngineBuiltin {
			continue
		}
		if slices.ContainsFunc(p.Capabilities, func(c string) bool { return strings.EqualFold(c, typ) }) {
			return e.builtinEngine(i)
		}
		if first < 0 {
			first = i
		}
	}
	if first < 0 {
		return nil, errors.New("no builtin provider is configured")
	}
	return e.builtinEngine(first)
}

// resyncFactor is `emfa factors resync ID CODE1 CODE2`: an HOTP token that has run ahead
// of the look-ahead window is found again from two consecutive codes.
func resyncFactor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("factors resync", flag.ContinueOnError)
	return withEnv(ctx, fs, args, stderr, func(e *env, rest []string) error {
		if len(rest) != 3 {
			return usageError{"factors resync needs ID CODE1 CODE2 (two consecutive codes of the token)"}
		}
		id := rest[0]
		engine, err := e.enrollEngine(builtin.TypeHOTP)
		if err != nil {
			return err
		}
		next, err := engine.ResyncHOTP(ctx, id, rest[1], rest[2])
		ev := store.AuditEvent{Time: e.now(), FactorID: id, Capability: builtin.TypeHOTP, Resource: "factors resync", Outcome: "SUCCESS"}
		if err != nil {
			ev.Outcome, ev.Reason = "FAILED", err.Error()
		}
		if aerr := e.store.AppendAudit(ctx, ev); aerr != nil {
			return errors.Join(err, aerr)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no factor %q", id)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "resynchronised factor %s: the token's next counter is %d\n", id, next)
		return nil
	})
}
