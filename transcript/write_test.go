package transcript

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// TestNoHardLinksNeverOverwrite: on a file system without hard links (a FAT
// volume, some network shares) a transcript took its name by a rename after a look that
// it was free: two replicas recording into one shared folder, both finding the name
// free, renamed one over the other. Each transcript must keep a file of its own there
// too, mode 0600, and no temporary file stays behind.
func TestNoHardLinksNeverOverwrite(t *testing.T) {
	defer func(f func(string, string) error) { link = f }(link)
	link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	dir := t.TempDir()
	base := filepath.Join(dir, "20260101T000000Z-emfa-enrollments-001")
	const writers, each = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := writeFileAtomic(base, ".yaml", fmt.Appendf(nil, "writer %d file %d\n", w, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	entries, _ := os.ReadDir(dir)
	seen := map[string]bool{}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil || filepath.Ext(path) != ".yaml" {
			t.Errorf("%s left in the folder (%v)", e.Name(), err)
			continue
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", e.Name())
		}
		seen[string(data)] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d transcripts written, %d found: some replaced others", writers*each, len(seen))
	}
}
