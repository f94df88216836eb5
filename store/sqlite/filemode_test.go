package sqlite

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// TestFilesPrivate is issue 15 item 3: the database, WAL and SHM files were created 0644.
// They are 0600 whatever the umask. (Not parallel: the umask is the process's.)
func TestFilesPrivate(t *testing.T) {
	for _, umask := range []int{0o022, 0o000} {
		old := syscall.Umask(umask)
		dir := t.TempDir()
		for _, dsn := range []string{filepath.Join(dir, "a.db"), "file:" + filepath.Join(dir, "b.db"), "file://" + filepath.Join(dir, "c%20d.db") + "?mode=rwc"} {
			s, err := Open(t.Context(), dsn)
			if err != nil {
				syscall.Umask(old)
				t.Fatal(err)
			}
			// A write makes SQLite create the -wal and -shm files.
			if err := s.CreateUser(t.Context(), store.User{ID: "u1", Name: "alice", CreatedAt: time.Unix(1767225600, 0)}); err != nil {
				t.Fatal(err)
			}
			path := dbPath(strings.SplitN(dsn, "?", 2)[0])
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Errorf("umask %03o, %s: %v", umask, dsn, err)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("umask %03o: %s is %04o, want 0600", umask, p, fi.Mode().Perm())
				}
			}
			s.Close()
		}
		syscall.Umask(old)
	}
}

func TestFileModeWarnings(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "emfa.db")
	s, err := Open(t.Context(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if w := FileModeWarnings("file:" + path); len(w) != 0 {
		t.Errorf("private files: %q", w)
	}
	os.Chmod(path, 0o644)
	os.Chmod(dir, 0o755)
	w := strings.Join(FileModeWarnings("file:"+path+"?_pragma=x"), "\n")
	for _, want := range []string{path + " is readable by other users (mode 0644)", dir + ", the database's directory, is readable by other users (mode 0755)"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q lack %q", w, want)
		}
	}
	if w := FileModeWarnings(":memory:"); w != nil {
		t.Errorf("in-memory: %q", w)
	}
}

// A directory's name may hold what a URI reads otherwise: the store is the file the DSN
// names, with its lock beside it. SQLite alone ended the name at '#' and wrote the
// database to ".../a", outside the private directory.
func TestPathWithURIBytes(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ dsn, file string }{
		{"file:" + filepath.Join(dir, "a#b", "emfa.db"), filepath.Join(dir, "a#b", "emfa.db")},
		{filepath.Join(dir, "p#q", "emfa.db"), filepath.Join(dir, "p#q", "emfa.db")},
		{"file:" + filepath.Join(dir, "100%25", "emfa.db"), filepath.Join(dir, "100%", "emfa.db")},
		{"file:" + filepath.Join(dir, "x%3Fy", "emfa.db") + "?mode=rwc", filepath.Join(dir, "x?y", "emfa.db")},
	} {
		if got := Path(c.dsn); got != c.file {
			t.Errorf("Path(%q) = %q, want %q", c.dsn, got, c.file)
		}
		if err := os.MkdirAll(filepath.Dir(c.file), 0o700); err != nil {
			t.Fatal(err)
		}
		release, err := Own(c.dsn)
		if err != nil {
			t.Fatal(err)
		}
		s, err := Open(t.Context(), c.dsn)
		if err != nil {
			t.Fatalf("%s: %v", c.dsn, err)
		}
		if err := s.CreateUser(t.Context(), store.User{ID: "u1", Name: "alice", CreatedAt: time.Unix(1767225600, 0)}); err != nil {
			t.Fatal(err)
		}
		s.Close()
		release()
		// The file named holds the user (Close checkpoints the WAL into it).
		if b, err := os.ReadFile(c.file); err != nil || !strings.Contains(string(b), "alice") {
			t.Errorf("%s: the user is not in %s (%v)", c.dsn, c.file, err)
		}
		if _, err := os.Stat(c.file + ".serve.lock"); err != nil {
			t.Errorf("%s: no lock beside the file: %v", c.dsn, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "100% a#b p#q x?y"; strings.Join(names, " ") != want {
		t.Errorf("the directory holds %q, want %q: a file was written elsewhere", names, want)
	}
}

// A file that is not a database, or a damaged one, says what to do about it.
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emfa.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "file is not a database") || !strings.Contains(err.Error(), "restore a backup") {
		t.Errorf("Open: %v", err)
	}
}
