package main

import (
	"context"
	"fmt"
	"os/signal"
	"slices"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/lifecycle"
)

// tokensCmd is `emfa tokens create --name NAME --scope read|helpdesk|write`, `emfa tokens list`
// and `emfa tokens revoke NAME`: the admin API's credentials. A token is printed once;
// the store keeps its hash.
func (d *deps) tokensCmd() *cobra.Command {
	var name, scope string
	create := d.managerCmd(&cobra.Command{
		Use: "create --name NAME --scope read|helpdesk|write", Short: "create an admin API token (printed once)",
		Example: "  emfa tokens create --name iam-sync --scope write --config emfa.yaml",
		Args: func(c *cobra.Command, args []string) error {
			const need = "tokens create needs --name NAME --scope read|helpdesk|write"
			if err := noArgsNeeding(&name, need)(c, args); err != nil {
				return err
			}
			switch {
			case scope == "":
				return usageError{need}
			case !slices.Contains(lifecycle.Scopes, scope):
				return usageError{fmt.Sprintf("--scope: must be read, helpdesk or write, not %q", scope)}
			}
			return nil
		},
	}, func(ctx context.Context, _ *env, m *lifecycle.Manager, _ []string) error {
		token, err := m.CreateToken(ctx, cliActor, name, scope)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintln(d.stderr, "emfa: the token is shown once; keep it in a secret store (emfa keeps only its hash)")
		printingOnce()
		if _, err := fmt.Fprintln(d.stdout, token); err != nil {
			ctx, cancel := undoContext(ctx)
			defer cancel()
			return unprinted("token", name, err, m.RevokeToken(ctx, cliActor, name))
		}
		return nil
	})
	create.Flags().StringVar(&name, "name", "", "the token's `NAME`, the actor of its actions in the audit trail")
	create.Flags().StringVar(&scope, "scope", "", "read (list and get), helpdesk (read, and unlock, delete a factor, reset a user, send an activation code or link) or write (everything)")
	once(create.Flags(), false, "scope")
	list := d.managerCmd(&cobra.Command{
		Use: "list", Short: "list admin API tokens", Example: "  emfa tokens list --config emfa.yaml", Args: noArgs,
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, _ []string) error {
		tokens, err := m.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSCOPE\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if t.Revoked != nil {
				revoked = t.Revoked.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Scope, t.Created.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
	revoke := d.managerCmd(&cobra.Command{
		Use: "revoke NAME", Short: "revoke an admin API token", Example: "  emfa tokens revoke iam-sync --config emfa.yaml",
		Args: exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error {
		if err := m.RevokeToken(ctx, cliActor, args[0]); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(d.stdout, "revoked token %s\n", args[0])
		return nil
	})
	return group("tokens", "the admin API's bearer tokens", "  emfa tokens create --name iam-sync --scope write", create, list, revoke)
}

// printingOnce readies the process to print something shown once (a token, a client
// secret, a factor's seed) whose failed printing the command undoes: the Go runtime ends a
// process writing to a broken stdout with SIGPIPE, so `emfa tokens create … | vault …`
// whose reader had exited died before it could revoke the token, a live credential nobody
// holds (exit 141). With SIGPIPE ignored the write fails instead (EPIPE), and the command
// revokes what it made; a command that prints nothing once keeps the default, ending
// quietly under `| head`.
func printingOnce() { signal.Ignore(syscall.SIGPIPE) }

// undoContext is the context of undoing a credential that could not be printed: not the
// command's, which a signal may have cancelled at that very moment (a CI job's timeout
// stops the whole pipeline, its reader too, so the write fails as the context ends), and
// the revocation was refused as "context canceled", the credential left live. A second
// signal still ends the process at once.
func undoContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// unprinted is the error of a command whose credential, shown once, could not be written
// (stdout on a full disk, a closed pipe): revoked is the outcome of revoking it. A token
// nobody holds was left live, and the command exited 0 with nothing on stdout, so a
// script went on with an empty file; revoked, it is no credential at all. A revoked one
// keeps its name.
func unprinted(kind, name string, err, revoked error) error {
	if revoked != nil {
		return fmt.Errorf("the %s %s was created but not printed (%v), and revoking it failed (%v): revoke it "+
			"(emfa %ss revoke %s) and create another", kind, name, err, cliError(revoked), kind, name)
	}
	return fmt.Errorf("the %s %s was created but not printed (%v): it is revoked; create another under a new --name", kind, name, err)
}
