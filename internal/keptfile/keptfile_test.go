package keptfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if _, err := Read(path, time.Second); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no file: %v, want ErrNotExist", err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if data, err := Read(path, 0); err != nil || len(data) != 0 {
		t.Errorf("empty, no wait: %q, %v; want it empty at once", data, err)
	}
	// Its writer finishes while Read waits: Read returns what was written.
	written := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		written <- os.WriteFile(path, []byte("s3cret\n"), 0o600)
	}()
	data, err := Read(path, time.Minute)
	if err != nil || string(data) != "s3cret\n" {
		t.Errorf("written meanwhile: %q, %v", data, err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
}
