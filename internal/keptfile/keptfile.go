// Package keptfile reads the files emfa keeps a generated secret in (a password, a key):
// one process creates such a file exclusively and then writes it, so another starting
// beside it may find it empty for a moment.
package keptfile

import (
	"bytes"
	"os"
	"time"
)

// Read reads path. A file found empty (or holding only white space) is read again, every
// 50 ms, for up to wait, for its writer to finish; what Read returns then may still be
// empty, for the caller to say so.
func Read(path string, wait time.Duration) ([]byte, error) {
	deadline := time.Now().Add(wait)
	for {
		data, err := os.ReadFile(path)
		if err != nil || len(bytes.TrimSpace(data)) > 0 || !time.Now().Before(deadline) {
			return data, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
