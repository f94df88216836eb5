// Command emfa is the one binary of emfa, an external-MFA provider for IBM Verify:
// `serve` answers Verify's webhook calls; `check`, `users`, `factors` and `totp` are the
// operator's tools, working on the configured store directly. This package only wires.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
