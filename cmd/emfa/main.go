// Command emfa is the one binary of emfa, an external-MFA provider for IBM Verify:
// `serve` answers Verify's webhook calls; `check`, `users`, `factors`, `audit` and the
// rest are the operator's tools, working on the configured store directly. This package
// only wires.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
)

func main() {
	// emfa serves no profiles (no pprof handler, no profile file), yet some dependency links
	// runtime.MemProfile in, so the runtime samples an allocation every 512 KiB and keeps
	// each sample's stack for the life of the process: 1.6 MiB of buckets after the bench
	// harness's load. Nobody would read them. Off, the DUO server of the harness holds
	// 71.2–72.0 MiB with 1,000 idle connections against 74.7–74.8 MiB (BENCHMARKS.md, the
	// tenth round; issue 16's 64 MiB budget). Set before anything allocates much, as the
	// runtime asks.
	runtime.MemProfileRate = 0
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal asks for a graceful stop; a second one, while serve drains its
	// connections, takes the default action: the process ends at once. Nothing answered
	// is lost by it (no call is answered before its writes are durable).
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := runChecked(ctx, os.Args[1:], processDeps())
	stop()
	os.Exit(code)
}

// runChecked is run failing a command whose output could not be written: stdout on a full
// disk, or a pipe closed with SIGPIPE ignored. Most commands print with fmt.Fprint and
// ignore its error, so `emfa users add bob > log` on a full disk exited 0 with nothing
// written, and a script took the missing output for success.
func runChecked(ctx context.Context, args []string, d deps) int {
	out := &checkedWriter{w: d.stdout}
	d.stdout = out
	code := run(ctx, args, d)
	if code == 0 && out.err != nil {
		fmt.Fprintf(d.stderr, "emfa: the output is incomplete: %v\n", out.err)
		return 1
	}
	return code
}

// checkedWriter keeps the first error of its writes, which may come from several
// goroutines (serve's).
type checkedWriter struct {
	w    io.Writer
	once sync.Once
	err  error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if err != nil {
		c.once.Do(func() { c.err = err })
	}
	return n, err
}
