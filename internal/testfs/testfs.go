// Package testfs holds what the store tests need of the file system beyond a temporary
// directory: the descriptors a process has open on a file, and a small file system of
// its own that can be filled to the last byte.
package testfs

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// OpenFiles counts this process's descriptors open on path; the test skips where there
// is no /proc/self/fd to read them from.
func OpenFiles(t testing.TB, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// Tmpfs mounts a tmpfs of 1 MiB on a new temporary directory, unmounted when the test
// ends (after the cleanups registered later, such as a store's Close), and returns the
// directory. Mounting needs root: without it, the test skips.
func Tmpfs(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}
