package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/lifecycle"
)

// clientsCmd is `emfa clients create --name NAME`, `emfa clients list` and `emfa clients
// revoke NAME`: the clients of emfa's own OAuth token endpoint (server.auth.oauth), which
// Verify's webhook uses with authentication type oauth. A secret is printed once; the
// store keeps its hash.
func (d *deps) clientsCmd() *cobra.Command {
	var name string
	create := d.managerCmd(&cobra.Command{
		Use: "create --name NAME", Short: "create an OAuth client of emfa's token endpoint (its secret printed once)",
		Example: "  emfa clients create --name verify --config emfa.yaml",
		Args:    noArgsNeeding(&name, "clients create needs --name NAME"),
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, _ []string) error {
		c, secret, err := m.CreateClient(ctx, cliActor, name)
		if err != nil {
			return cliError(err)
		}
		if e.cfg.Server.Auth.OAuth == nil || !e.cfg.Server.Auth.OAuth.IssuesTokens() {
			fmt.Fprintln(d.stderr, "emfa: warning: server.auth.oauth is not set with a token endpoint: this client cannot obtain tokens yet")
		}
		fmt.Fprintln(d.stderr, "emfa: the secret is shown once; keep it in a secret store (emfa keeps only its hash)")
		printingOnce() // tokens.go
		if _, err := fmt.Fprintf(d.stdout, "client_id: %s\nclient_secret: %s\n", c.ID, secret); err != nil {
			ctx, cancel := undoContext(ctx) // tokens.go
			defer cancel()
			return unprinted("client", name, err, m.RevokeClient(ctx, cliActor, name))
		}
		return nil
	})
	create.Flags().StringVar(&name, "name", "", "the client's `NAME`, unique: 1 to 64 letters, digits, '_', '.', '-'")
	list := d.managerCmd(&cobra.Command{
		Use: "list", Short: "list OAuth clients", Example: "  emfa clients list --config emfa.yaml", Args: noArgs,
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, _ []string) error {
		clients, err := m.ListClients(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tCLIENT_ID\tCREATED\tREVOKED")
		for _, c := range clients {
			revoked := "-"
			if c.Revoked != nil {
				revoked = c.Revoked.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Name, c.ID, c.Created.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	})
	revoke := d.managerCmd(&cobra.Command{
		Use: "revoke NAME", Short: "revoke an OAuth client (its tokens lapse within their lifetime)",
		Example: "  emfa clients revoke verify --config emfa.yaml",
		Args:    exactly(1, "exactly one NAME"),
	}, func(ctx context.Context, e *env, m *lifecycle.Manager, args []string) error {
		if err := m.RevokeClient(ctx, cliActor, args[0]); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(d.stdout, "revoked client %s\n", args[0])
		return nil
	})
	return group("clients", "the OAuth clients of emfa's token endpoint (inbound OAuth)",
		"  emfa clients create --name verify --config emfa.yaml", create, list, revoke)
}
