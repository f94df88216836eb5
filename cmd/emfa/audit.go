package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/emfa/emfa/store"
)

// cmdAudit prints the audit trail, newest first: every decision with its reason, never a
// code or answer.
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	user := fs.String("user", "", "only this user's events")
	limit := fs.Int("limit", 50, "at most this many events")
	asJSON := fs.Bool("json", false, "one JSON object per line")
	return withEnv(ctx, fs, args, stderr, func(e *env, rest []string) error {
		if len(rest) > 0 {
			return usageError{"audit takes no arguments"}
		}
		if *limit < 1 {
			return usageError{"--limit must be positive"}
		}
		events, err := e.store.ListAudit(ctx, store.AuditFilter{Username: *user, Limit: *limit})
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			for _, ev := range events {
				if err := enc.Encode(ev); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tPROVIDER\tUSER\tCAPABILITY\tFACTOR\tRESOURCE\tOUTCOME\tREASON\tREQUEST")
		for _, ev := range events {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format(time.RFC3339),
				ev.Provider, ev.Username, ev.Capability, ev.FactorID, ev.Resource, ev.Outcome, ev.Reason, ev.RequestID)
		}
		return tw.Flush()
	})
}
