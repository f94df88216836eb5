package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/emfa/emfa/lifecycle"
)

// cmdImport is `emfa import FILE [--format csv|jsonl] [--dry-run] [--full [--max-deletes N]]
// [--json]`: a directory export applied row by row, as POST /admin/v1/import does.
func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	format := fs.String("format", "", "csv or jsonl (default: from the file's extension)")
	dryRun := fs.Bool("dry-run", false, "print what would change, change nothing")
	full := fs.Bool("full", false, "the file is the whole directory: delete users absent from it (see --max-deletes)")
	maxDeletes := fs.Int("max-deletes", lifecycle.DefaultMaxDeletes, "with --full, delete nobody if more users than this are absent")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	return withEnv(ctx, fs, args, stderr, func(e *env, rest []string) error {
		if len(rest) != 1 {
			return usageError{"import needs exactly one FILE"}
		}
		if *maxDeletes < 0 {
			return usageError{"--max-deletes must not be negative"}
		}
		path := rest[0]
		f := *format
		if f == "" {
			switch strings.ToLower(filepath.Ext(path)) {
			case ".csv":
				f = lifecycle.FormatCSV
			case ".jsonl", ".ndjson":
				f = lifecycle.FormatJSONL
			default:
				return usageError{"import cannot tell the format of " + path + ": give --format csv or jsonl"}
			}
		}
		file, err := os.Open(path)
		if err != nil {
			return err
		}
		defer file.Close()
		rows, bad, err := lifecycle.ParseImport(file, f)
		if err != nil {
			return err
		}
		m, err := e.cliManager()
		if err != nil {
			return err
		}
		rep, err := m.Import(ctx, "cli", rows, bad, lifecycle.ImportOptions{DryRun: *dryRun, Full: *full, MaxDeletes: *maxDeletes})
		if err != nil {
			return err
		}
		if *asJSON {
			err = printJSON(stdout, rep)
		} else {
			printImport(stdout, rep)
		}
		if err == nil && (rep.Refused > 0 || rep.DeletionRefused != "") {
			return errSilent // the report says what was refused: exit 1
		}
		return err
	})
}

// printImport prints a report as a diff: one line per row that changes or is refused.
func printImport(w io.Writer, rep lifecycle.ImportReport) {
	mark := map[string]string{lifecycle.ActionCreated: "+", lifecycle.ActionUpdated: "~", lifecycle.ActionDeleted: "-", lifecycle.ActionRefused: "!"}
	for _, r := range rep.Rows {
		m, ok := mark[r.Action]
		if !ok {
			continue
		}
		where := r.Username
		if r.Line > 0 {
			where = fmt.Sprintf("line %d %s", r.Line, r.Username)
		}
		switch {
		case r.Error != nil:
			fmt.Fprintf(w, "%s %s: %s\n", m, where, r.Error.Error())
		case len(r.Changes) > 0:
			fmt.Fprintf(w, "%s %s: %s\n", m, where, strings.Join(r.Changes, "; "))
		default:
			fmt.Fprintf(w, "%s %s\n", m, where)
		}
	}
	if rep.DeletionRefused != "" {
		fmt.Fprintln(w, "! "+rep.DeletionRefused)
	}
	verb := "import"
	if rep.DryRun {
		verb = "dry run (nothing changed)"
	}
	fmt.Fprintf(w, "%s: %d created, %d updated, %d unchanged, %d deleted, %d refused\n",
		verb, rep.Created, rep.Updated, rep.Unchanged, rep.Deleted, rep.Refused)
}
