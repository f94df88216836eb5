package main

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
)

// interruptedWriter is a stdout whose write fails as the process is told to stop: a CI
// job's timeout sends SIGTERM to the whole pipeline, `emfa tokens create … | vault …`,
// so the reader is gone (EPIPE) as the command's context is cancelled.
type interruptedWriter struct{ cancel context.CancelFunc }

func (w interruptedWriter) Write([]byte) (int, error) {
	w.cancel()
	return 0, syscall.EPIPE
}

// The undoing of an unprinted credential ran on the command's context: stopped by a
// signal at the moment its output failed, the revocation (the factor's deletion) was
// refused as "context canceled", and the token stayed live with nobody holding it. The
// undo now runs on its own, whatever stopped the command.
func TestUnprintedUndoneWhenStopped(t *testing.T) {
	cfg := writeConfig(t, "")
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	for _, c := range printedOnce() {
		ctx, cancel := context.WithCancel(context.Background())
		var stderr bytes.Buffer
		code := run(ctx, append(c.args, "--config", cfg), (&cli{}).deps(interruptedWriter{cancel}, &stderr))
		cancel()
		if code != 1 || strings.Contains(stderr.String(), "failed") {
			t.Errorf("emfa %s stopped as its output failed: exit %d, want 1 and the credential undone\n%s", strings.Join(c.args, " "), code, &stderr)
		}
		if out := mustEmfa(t, append(c.list, "--config", cfg)...); !c.gone(out) {
			t.Errorf("emfa %s stopped as its output failed left its credential live:\n%s", strings.Join(c.args, " "), out)
		}
	}
}
