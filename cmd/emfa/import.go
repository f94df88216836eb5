package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
)

// importCmd is `emfa import FILE [--format csv|jsonl] [--dry-run] [--full [--max-deletes N]]
// [--json]`: a directory export applied row by row, as POST /admin/v1/import does.
func (d *deps) importCmd() *cobra.Command {
	var format string
	var dryRun, full, asJSON, invite bool
	var maxDeletes int
	c := d.storeCmd(&cobra.Command{
		Use:   "import FILE",
		Short: "create and update users (and pre-provisioned factors) from a CSV or JSON-lines file",
		Example: `  emfa import users.csv --dry-run --config emfa.yaml
  emfa import users.csv --full --max-deletes 10 --config emfa.yaml
  emfa import users.csv --invite --config emfa.yaml   # e-mail each new user an activation link`,
		// The flags are checked here, before the store opens (storeCmd): a usage error
		// makes no database.
		Args: func(c *cobra.Command, args []string) error {
			if err := exactly(1, "exactly one FILE")(c, args); err != nil {
				return err
			}
			if maxDeletes < 0 {
				return usageError{"--max-deletes must not be negative"}
			}
			f := strings.ToLower(format)
			if f != "" && f != lifecycle.FormatCSV && f != lifecycle.FormatJSONL {
				return usageError{"--format must be csv or jsonl, not " + strconv.Quote(f)}
			}
			if f == "" {
				switch strings.ToLower(filepath.Ext(args[0])) {
				case ".csv":
					f = lifecycle.FormatCSV
				case ".jsonl", ".ndjson":
					f = lifecycle.FormatJSONL
				default:
					return usageError{"import cannot tell the format of " + args[0] + ": give --format csv or jsonl"}
				}
			}
			format = f
			return nil
		},
	}, func(ctx context.Context, e *env, args []string) error {
		path, f := args[0], format
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		rows, bad, err := lifecycle.ParseImport(file, f)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		// As emfa users add: each user's change queues its propagations to the vendors in
		// its own commit, for the server's workers (a dry run queues nothing).
		prop, err := e.cliPropagation() // admin.go
		if err != nil {
			return err
		}
		m, err := e.cliManagerWith(prop) // adminserve.go
		if err != nil {
			return err
		}
		var ss *lifecycle.SelfService
		if invite {
			if ss, err = e.cliSelfService(true); err != nil {
				return err
			}
		}
		rep, fault := m.Import(ctx, cliActor, rows, bad, lifecycle.ImportOptions{DryRun: dryRun, Full: full, MaxDeletes: maxDeletes})
		if fault != nil && len(rep.Rows) == 0 {
			return fault
		}
		// A store fault part way still reports what was done, and invites the users
		// created: the same file again finds them unchanged, and invites nobody.
		if ss != nil {
			ss.InviteImported(ctx, cliActor, &rep)
		}
		if asJSON {
			err = encodeJSON(d.stdout, rep) // one line, as every --json prints its objects
		} else {
			printImport(d.stdout, rep)
		}
		if fault != nil {
			return fault
		}
		if err == nil && (rep.Refused > 0 || rep.DeletionRefused != "") {
			return errSilent // the report says what was refused: exit 1
		}
		return err
	})
	c.Flags().StringVar(&format, "format", "", "csv or jsonl (default: from the file's extension)")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change, change nothing")
	c.Flags().BoolVar(&full, "full", false, "the file is the whole directory: delete users absent from it (see --max-deletes)")
	c.Flags().IntVar(&maxDeletes, "max-deletes", lifecycle.DefaultMaxDeletes, "with --full, delete nobody if more users than this are absent")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object on one line, as POST /admin/v1/import's")
	c.Flags().BoolVar(&invite, "invite", false, "e-mail each user the import creates (with an e-mail address) an activation link")
	return c
}

// answered is a row's refusal as its caller reads it, POST /admin/v1/import's report as
// the CLI's: its code, field and message, the value it quotes whole (Error masks that for
// the audit trail and the log).
func answered(e *lifecycle.Error) string {
	if e.Field != "" {
		return e.Code + ": " + e.Field + ": " + e.Msg
	}
	return e.Code + ": " + e.Msg
}

// maxReportText bounds a message of the import report (a refusal, a row's changes): the
// longest the lifecycle writes, a profile's values quoted, is well under it.
const maxReportText = 16 << 10

// printImport prints a report as a diff: one line per row that changes or is refused.
// What a row held (a refused user name, a JSON key) is the directory's, anyone's input:
// shown as the audit trail shows it, control characters escaped and a name cut at the
// longest one a user may have. Raw, an escape sequence in a name reached the operator's
// terminal (ESC[2J cleared it, a carriage return printed a row over its own refusal),
// and a 1 MB name was printed whole.
func printImport(w io.Writer, rep lifecycle.ImportReport) {
	mark := map[string]string{lifecycle.ActionCreated: "+", lifecycle.ActionUpdated: "~", lifecycle.ActionDeleted: "-", lifecycle.ActionRefused: "!"}
	name := func(s string) string { return provider.Printable(s, provider.MaxUsernameBytes) }
	text := func(s string) string { return provider.Printable(s, maxReportText) }
	for _, r := range rep.Rows {
		m, ok := mark[r.Action]
		if !ok {
			continue
		}
		where := name(r.Username)
		if r.Line > 0 {
			where = fmt.Sprintf("line %d", r.Line)
			if r.Username != "" { // a row refused without a name has none
				where += " " + name(r.Username)
			}
		}
		switch {
		case r.Error != nil:
			fmt.Fprintf(w, "%s %s: %s\n", m, where, text(answered(r.Error)))
		case len(r.Changes) > 0:
			fmt.Fprintf(w, "%s %s: %s\n", m, where, text(strings.Join(r.Changes, "; ")))
		default:
			fmt.Fprintf(w, "%s %s\n", m, where)
		}
		switch {
		case r.Invited != "":
			fmt.Fprintf(w, "  invited: link sent to %s\n", text(r.Invited))
		case r.InviteError != nil:
			fmt.Fprintf(w, "  not invited: %s\n", text(answered(r.InviteError)))
		}
	}
	if rep.DeletionRefused != "" {
		fmt.Fprintln(w, "! "+text(rep.DeletionRefused))
	}
	verb := "import"
	if rep.DryRun {
		verb = "dry run (nothing changed)"
	}
	fmt.Fprintf(w, "%s: %d created, %d updated, %d unchanged, %d deleted, %d refused\n",
		verb, rep.Created, rep.Updated, rep.Unchanged, rep.Deleted, rep.Refused)
}
