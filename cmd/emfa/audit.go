package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/lifecycle"
)

// auditCmd prints the audit trail, newest first: every decision with its reason, never a
// code or answer.
func (d *deps) auditCmd() *cobra.Command {
	var q lifecycle.AuditQuery
	var limit int
	var asJSON bool
	var since, until string
	c := &cobra.Command{
		Use:   "audit",
		Short: "the audit trail, newest first: every decision with its reason, never a code or answer",
		Example: `  emfa audit --config emfa.yaml --user alice --limit 20
  emfa audit --config emfa.yaml --user alice --action validate --outcome FAILED --since 24h
  emfa audit --config emfa.yaml --request-id 0f3c9d2e --since 2026-12-05 --json
  emfa audit --config emfa.yaml --json | jq 'select(.outcome == "FAILED")'`,
		Args: func(c *cobra.Command, args []string) error {
			if err := noArgs(c, args); err != nil {
				return err
			}
			if limit < 1 {
				return usageError{"--limit must be positive"}
			}
			// The values GET /audit takes, refused in its words.
			for flag, v := range map[string]string{"action": q.Action, "outcome": q.Outcome} {
				if v == "" {
					continue
				}
				if err := adapter.CheckAuditFilter(flag, v); err != nil {
					return usageError{"--" + cliError(err).Error()}
				}
			}
			var err error
			if q.Since, err = auditTime("since", since, d.now()); err != nil {
				return err
			}
			if q.Until, err = auditTime("until", until, d.now()); err != nil {
				return err
			}
			// The window the query would refuse, refused before the store opens.
			if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
				return usageError{fmt.Sprintf("--until: must be after since (%s), not %s",
					q.Since.Format(time.RFC3339Nano), q.Until.Format(time.RFC3339Nano))}
			}
			return nil
		},
	}
	c.Flags().StringVar(&q.User, "user", "", "only this user's events")
	c.Flags().StringVar(&q.Action, "action", "", "only this action, as GET /admin/v1/audit's action: validate, initiate, admin.users.update…")
	c.Flags().StringVar(&q.Outcome, "outcome", "", "only this outcome: SUCCESS, FAILED, PENDING, CANCELED, TIMEOUT or SKIPPED")
	c.Flags().StringVar(&q.Actor, "actor", "", "only the admin changes made by this actor (a token's name, cli, sync:SOURCE)")
	c.Flags().StringVar(&q.RequestID, "request-id", "", "only the events of the request with this X-Request-ID")
	c.Flags().StringVar(&since, "since", "", "only events at or after this time: RFC 3339 (2026-12-05T09:00:00Z), a date (2026-12-05, UTC) or a duration before now (90m, 24h)")
	c.Flags().StringVar(&until, "until", "", "only events before this time, written as --since's")
	c.Flags().IntVar(&limit, "limit", 50, "at most this many events")
	c.Flags().BoolVar(&asJSON, "json", false, "one JSON object per line, as GET /admin/v1/audit's events")
	return d.storeCmd(c, func(ctx context.Context, e *env, _ []string) error {
		m, err := e.manager(nil, nil, nil)
		if err != nil {
			return err
		}
		// The table is aligned, and printed, a page at a time: aligned over every row, it
		// held every event and every cell until the last page was read, 667 MB for
		// --limit 500000 before a line came out. The header is the first page's.
		tw := tabwriter.NewWriter(d.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tACTION\tOUTCOME\tUSER\tPROVIDER\tCAPABILITY\tFACTOR\tREASON\tREQUEST\tACTOR")
		each := func(page []lifecycle.AuditEvent) error {
			for _, ev := range page {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(lifecycle.AuditTimeFormat),
					ev.Action, ev.Outcome, ev.User, ev.Provider, ev.Capability, ev.FactorID, ev.Reason, ev.RequestID, ev.Actor)
			}
			return tw.Flush()
		}
		if asJSON {
			// Each page printed as it is read: an export of the whole trail
			// (--limit 1000000) held every event before the first line, 1.2 KB each.
			enc := json.NewEncoder(d.stdout)
			enc.SetEscapeHTML(false)
			each = func(page []lifecycle.AuditEvent) error {
				for _, ev := range page {
					if err := enc.Encode(ev); err != nil {
						return err
					}
				}
				return nil
			}
		}
		err = auditEvents(ctx, m, q, limit, each)
		if le := (*lifecycle.Error)(nil); errors.As(err, &le) && (le.Field == "since" || le.Field == "until") {
			return usageError{"--" + cliError(err).Error()} // until not after since
		}
		if err != nil {
			return cliError(err)
		}
		if asJSON {
			return nil
		}
		return tw.Flush() // the header of an empty trail
	})
}

// auditTime reads --since's or --until's value v: an RFC 3339 time, a date (its midnight
// in UTC, as the trail's times are written), or a duration before now.
func auditTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError{fmt.Sprintf("--%s: %q is not an RFC 3339 time (2026-12-05T09:00:00Z), a date (2026-12-05) or a duration before now (90m, 24h)", flag, v)}
}

// auditEvents reads at most limit events of q, newest first, a page of the admin API's
// size at a time (the same query, checked the same way, as GET /admin/v1/audit), and
// hands each page to each as it is read.
func auditEvents(ctx context.Context, m *lifecycle.Manager, q lifecycle.AuditQuery, limit int, each func([]lifecycle.AuditEvent) error) error {
	for n := 0; n < limit; {
		q.Limit = min(limit-n, 1000)
		page, err := m.QueryAudit(ctx, q)
		if err != nil {
			return err
		}
		if err := each(page.Events); err != nil {
			return err
		}
		n += len(page.Events)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	return nil
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
