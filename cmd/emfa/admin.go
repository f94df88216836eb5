package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file")
	// --strict: an unset ${NAME} is an error, as for serve (default: a warning, so a
	// configuration can be checked where its secrets are not).
	strict := fs.Bool("strict", false, "treat an unset ${NAME} as an error")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := loadCheck
	if *strict {
		opts = loadAll
	}
	cfg, err := loadConfig(*configPath, stderr, opts)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	// Compile every remote provider's transforms, so a CEL error is found here and not at
	// the first login.
	var errs config.Errors
	transforms := 0
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineRemote {
			continue
		}
		w, warnings, err := remoteWebhook(cfg, i)
		for _, msg := range warnings {
			fmt.Fprintf(stderr, "warning: %s: %s\n", cfg.Source, msg)
		}
		if err != nil {
			errs = append(errs, prefixed(cfg.Source+": ", err)...)
			continue
		}
		for _, r := range w.Resources {
			transforms += min(1, len(r.Transform.Outgoing)) + min(1, len(r.Transform.Incoming))
		}
	}
	// Build every sender too (a malformed account SID, a gateway body that does not
	// compile), without sending anything.
	probe := &env{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	// Each builtin provider's section is decoded and checked by its factor types.
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineBuiltin {
			continue
		}
		warnings, err := builtin.Check(probe.builtinOptions(i))
		for _, msg := range warnings {
			fmt.Fprintln(stderr, "warning:", msg)
		}
		if err := cfg.Annotate(err); err != nil {
			errs = append(errs, err.(config.Errors)...)
		}
	}
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
	if len(errs) > 0 {
		return errs
	}
	caps := 0
	for _, p := range cfg.Providers {
		caps += len(p.Capabilities)
	}
	fmt.Fprintf(stdout, "ok: %s: %d provider(s), %d capabilities, %d transforms compiled, storage %s, listen %s\n",
		cfg.Source, len(cfg.Providers), caps, transforms, cfg.Storage.Driver, cfg.Server.Listen)
	return nil
}

// withEnv parses --config plus the command's own flags and opens the store.
func withEnv(ctx context.Context, fs *flag.FlagSet, args []string, stderr io.Writer, fn func(e *env, rest []string) error) error {
	configPath := fs.String("config", "", "configuration file (default: the embedded default)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	e, err := openEnv(ctx, *configPath, stderr, loadStorage)
	if err != nil {
		return err
	}
	defer e.Close()
	return fn(e, rest)
}

func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"users needs a subcommand: add, list, delete, disable, enable"}
	}
	sub := args[0]
	fs := flag.NewFlagSet("users "+sub, flag.ContinueOnError)
	return withEnv(ctx, fs, args[1:], stderr, func(e *env, rest []string) error {
		if sub == "list" {
			users, err := e.store.ListUsers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATE\tCREATED")
			for _, u := range users {
				state := "enabled"
				if u.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Name, state, u.CreatedAt.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		}
		if len(rest) != 1 || strings.TrimSpace(rest[0]) == "" {
			return usageError{"users " + sub + " needs exactly one NAME"}
		}
		name := rest[0]
		switch sub {
		case "add":
			if err := e.store.CreateUser(ctx, store.User{ID: builtin.NewID(), Name: name, CreatedAt: e.now()}); err != nil {
				if errors.Is(err, store.ErrExists) {
					return fmt.Errorf("user %q already exists", name)
				}
				return err
			}
			fmt.Fprintf(stdout, "added user %s\n", name)
		case "delete":
			if err := e.store.DeleteUser(ctx, name); err != nil {
				return userErr(name, err)
			}
			fmt.Fprintf(stdout, "deleted user %s and its factors\n", name)
		case "disable", "enable":
			if err := e.store.SetUserDisabled(ctx, name, sub == "disable"); err != nil {
				return userErr(name, err)
			}
			fmt.Fprintf(stdout, "%sd user %s\n", sub, name)
		default:
			return usageError{"unknown users subcommand " + sub}
		}
		return nil
	})
}

func userErr(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	return err
}

func cmdFactors(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"factors needs a subcommand: add, list, delete, disable, enable, unlock, resync"}
	}
	sub := args[0]
	if sub == "add" {
		return addFactor(ctx, args[1:], stdout, stderr)
	}
	if sub == "resync" {
		return resyncFactor(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("factors "+sub, flag.ContinueOnError)
	user := fs.String("user", "", "the user's name")
	return withEnv(ctx, fs, args[1:], stderr, func(e *env, rest []string) error {
		switch sub {
		case "list":
			if *user == "" {
				return usageError{"factors list needs --user"}
			}
			u, err := e.store.GetUser(ctx, *user)
			if err != nil {
				return userErr(*user, err)
			}
			factors, err := e.store.ListFactors(ctx, u.ID)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tNAME\tSTATE\tFAILURES\tLOCKED UNTIL")
			for _, f := range factors {
				locked := "-"
				if f.LockedUntil.After(e.now()) {
					locked = f.LockedUntil.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", f.ID, f.Type, f.Label, f.State, f.Failures, locked)
			}
			return tw.Flush()
		case "delete", "disable", "enable", "unlock":
			if len(rest) != 1 {
				return usageError{"factors " + sub + " needs exactly one ID"}
			}
			id := rest[0]
			var err error
			switch sub {
			case "delete":
				err = e.store.DeleteFactor(ctx, id)
			case "disable":
				err = e.store.SetFactorState(ctx, id, store.FactorDisabled, e.now())
			case "enable":
				// A pending factor becomes active only through its own activation (a push
				// device registering its key), never by hand.
				f, gerr := e.store.GetFactor(ctx, id)
				if gerr == nil && f.State == store.FactorPending {
					return fmt.Errorf("factor %s is waiting for its device to register; it cannot be enabled by hand", id)
				}
				err = e.store.SetFactorState(ctx, id, store.FactorActive, e.now())
			case "unlock":
				err = e.store.ResetFailures(ctx, id, e.now())
			}
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no factor %q", id)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s factor %s\n", map[string]string{"delete": "deleted", "disable": "disabled", "enable": "enabled", "unlock": "unlocked"}[sub], id)
			return nil
		}
		return usageError{"unknown factors subcommand " + sub}
	})
}

// cmdTOTP prints the current code of a seed: for tests, demos and checking a token.
func cmdTOTP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "code" {
		return usageError{"totp needs the subcommand code"}
	}
	fs := flag.NewFlagSet("totp code", flag.ContinueOnError)
	secret := fs.String("secret", "", "Base32 seed")
	algorithm := fs.String("algorithm", "SHA1", "SHA1, SHA256 or SHA512")
	digits := fs.Int("digits", 6, "6 or 8")
	period := fs.Int("period", 30, "seconds per step")
	at := fs.Int64("time", 0, "Unix time (default: now)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *secret == "" {
		return usageError{"totp code needs --secret"}
	}
	seed, err := builtin.DecodeSecret(*secret)
	if err != nil {
		return err
	}
	alg, err := builtin.ParseAlgorithm(*algorithm)
	if err != nil {
		return err
	}
	if *digits < 6 || *digits > 8 || *period <= 0 {
		return errors.New("digits must be 6 to 8 and period positive")
	}
	t := *at
	if t == 0 {
		t = time.Now().Unix()
	}
	fmt.Fprintln(stdout, builtin.HOTP(alg, seed, uint64(builtin.TOTPStep(t, *period)), *digits))
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
