// Command emfa is the one binary of emfa, an external-MFA provider for IBM Verify:
// `serve` answers Verify's webhook calls; `check`, `users`, `factors`, `audit` and the
// rest are the operator's tools, working on the configured store directly. This package
// only wires.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], processDeps())
	stop()
	os.Exit(code)
}
