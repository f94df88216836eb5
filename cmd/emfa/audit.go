package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/lifecycle"
)

// auditCmd prints the audit trail, newest first: every decision with its reason, never a
// code or answer.
func (d *deps) auditCmd() *cobra.Command {
	var q lifecycle.AuditQuery
	var limit int
	var asJSON bool
	c := &cobra.Command{
		Use:   "audit",
		Short: "the audit trail, newest first: every decision with its reason, never a code or answer",
		Example: `  emfa audit --config emfa.yaml --user alice --limit 20
  emfa audit --config emfa.yaml --request-id 0f3c9d2e --json
  emfa audit --config emfa.yaml --json | jq 'select(.outcome == "FAILED")'`,
		Args: func(c *cobra.Command, args []string) error {
			if err := noArgs(c, args); err != nil {
				return err
			}
			if limit < 1 {
				return usageError{"--limit must be positive"}
			}
			return nil
		},
	}
	c.Flags().StringVar(&q.User, "user", "", "only this user's events")
	c.Flags().StringVar(&q.Actor, "actor", "", "only the admin changes made by this actor (a token's name, cli, sync:SOURCE)")
	c.Flags().StringVar(&q.RequestID, "request-id", "", "only the events of the request with this X-Request-ID")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many events")
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, as GET /admin/v1/audit's events")
	return d.storeCmd(c, func(ctx context.Context, e *env, _ []string) error {
		m, err := e.manager(nil, nil, nil)
		if err != nil {
			return err
		}
		events, err := auditEvents(ctx, m, q, limit)
		if err != nil {
			return cliError(err)
		}
		if asJSON {
			enc := json.NewEncoder(d.stdout)
			enc.SetEscapeHTML(false)
			for _, ev := range events {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTION\tOUTCOME\tUSER\tPROVIDER\tCAPABILITY\tFACTOR\tREASON\tREQUEST\tACTOR")
		for _, ev := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(lifecycle.AuditTimeFormat),
				ev.Action, ev.Outcome, ev.User, ev.Provider, ev.Capability, ev.FactorID, ev.Reason, ev.RequestID, ev.Actor)
		}
		return tw.Flush()
	})
}

// auditEvents reads at most limit events of q, newest first, a page of the admin API's
// size at a time: the same query, checked the same way, as GET /admin/v1/audit.
func auditEvents(ctx context.Context, m *lifecycle.Manager, q lifecycle.AuditQuery, limit int) ([]lifecycle.AuditEvent, error) {
	var events []lifecycle.AuditEvent
	for len(events) < limit {
		q.Limit = min(limit-len(events), 1000)
		page, err := m.QueryAudit(ctx, q)
		if err != nil {
			return nil, err
		}
		events = append(events, page.Events...)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return events, nil
}

// cliActor is the actor of the changes made with the CLI, in the audit trail.
const cliActor lifecycle.Actor = "cli"

// factorOwner is the name of the user factor id belongs to, for its audit record:
// store.ErrNotFound when there is no such factor.
func (e *env) factorOwner(ctx context.Context, id string) (string, error) {
	f, err := e.store.GetFactor(ctx, id)
	if err != nil {
		return "", err
	}
	u, err := e.store.GetUserByID(ctx, f.UserID)
	if err != nil {
		return "", err
	}
	return u.Name, nil
}
