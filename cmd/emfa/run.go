package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// usageError makes run print the command's usage and exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

var usage = `emfa — an external-MFA provider for IBM Verify

Usage:
  emfa serve   [--config F] [--record DIR]   serve Verify's webhook contract (--record: write transcripts)
  emfa check   [--config F]                  validate a configuration and compile its transforms
  emfa users   add|list|delete|disable|enable [NAME]
` + factorsAddUsage() + `  emfa factors list --user NAME
  emfa factors delete|disable|enable|unlock ID
  emfa factors resync ID CODE1 CODE2                      an HOTP token that ran ahead
  emfa device  register --server URL --code CODE --state FILE [--alg ES256|Ed25519] [--name N]
  emfa device  pending --state FILE
  emfa device  approve|deny|cancel CHALLENGE --state FILE [--number N]
  emfa audit   [--user NAME] [--limit N] [--json]          decisions, newest first
  emfa tokens  create --name NAME --scope read|write | list | revoke NAME   admin API tokens
  emfa import  FILE [--format csv|jsonl] [--dry-run] [--full [--max-deletes N]] [--json]
  emfa totp    code --secret B32 [--algorithm A] [--digits N] [--period S] [--time UNIX]
  emfa replay  FILES... [--target URL [--user U --password P | --header Name=Value]] [-v]
  emfa transform eval --provider P --resource R --direction outgoing|incoming --input FILE

Every command but totp, device and replay takes --config F.
Without --config, commands use the embedded default: SQLite under ./emfa-data.
`

// run is main without the process: it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmds := map[string]func(context.Context, []string, io.Writer, io.Writer) error{
		"serve":     cmdServe,
		"check":     cmdCheck,
		"users":     cmdUsers,
		"factors":   cmdFactors,
		"totp":      cmdTOTP,
		"transform": cmdTransform,
		"device":    cmdDevice,
		"replay":    cmdReplay,
		"audit":     cmdAudit,
		"tokens":    cmdTokens, // tokens.go
		"import":    cmdImport, // import.go
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "emfa: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := cmd(ctx, args[1:], stdout, stderr); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "emfa %s: %s\n\n%s", args[0], ue.msg, usage)
			return 2
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errSilent) { // the command has said why
			return 1
		}
		fmt.Fprintf(stderr, "emfa %s: %s\n", args[0], indent(err.Error()))
		return 1
	}
	return 0
}

// parseFlags parses flags wherever they stand among the arguments (`users add NAME
// --config F` as well as `users add --config F NAME`) and returns the positional ones.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// indent keeps a multi-line error (every config problem) readable under its prefix.
func indent(s string) string {
	if !strings.Contains(s, "\n") {
		return s
	}
	return "\n  " + strings.ReplaceAll(s, "\n", "\n  ")
}
