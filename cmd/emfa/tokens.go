package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// cmdTokens is `emfa tokens create --name NAME --scope read|write`, `emfa tokens list`
// and `emfa tokens revoke NAME`: the admin API's credentials. A token is printed once;
// the store keeps its hash.
func cmdTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"tokens needs a subcommand: create, list, revoke"}
	}
	sub := args[0]
	fs := flag.NewFlagSet("tokens "+sub, flag.ContinueOnError)
	name := fs.String("name", "", "the token's name, the actor of its actions in the audit trail")
	scope := fs.String("scope", "", "read (list and get) or write (everything)")
	return withEnv(ctx, fs, args[1:], stderr, func(e *env, rest []string) error {
		m, err := e.manager(nil, nil)
		if err != nil {
			return err
		}
		switch sub {
		case "create":
			if *name == "" || *scope == "" || len(rest) > 0 {
				return usageError{"tokens create needs --name NAME --scope read|write"}
			}
			token, err := m.CreateToken(ctx, "cli", *name, *scope)
			if err != nil {
				return err
			}
			fmt.Fprintln(stderr, "emfa: the token is shown once; keep it in a secret store (emfa keeps only its hash)")
			fmt.Fprintln(stdout, token)
			return nil
		case "list":
			tokens, err := m.ListTokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPE\tCREATED\tREVOKED")
			for _, t := range tokens {
				revoked := "-"
				if t.Revoked != nil {
					revoked = t.Revoked.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Scope, t.Created.UTC().Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		case "revoke":
			if len(rest) != 1 {
				return usageError{"tokens revoke needs exactly one NAME"}
			}
			if err := m.RevokeToken(ctx, "cli", rest[0]); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked token %s\n", rest[0])
			return nil
		}
		return usageError{"unknown tokens subcommand " + sub}
	})
}
