package sqlite_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/sqlite"
)

// TestPingNoticesVanishedFile: a database file deleted (rm -rf of its directory) or
// replaced under an open store makes Ping fail, naming the file: SQLite would go on
// committing to the unlinked file, and every write would be lost at the next start.
func TestPingNoticesVanishedFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, path string)
	}{
		{"directory removed", func(t *testing.T, path string) {
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				t.Fatal(err)
			}
		}},
		{"file replaced", func(t *testing.T, path string) {
			other := path + ".other"
			if err := os.WriteFile(other, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, path); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "emfa.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			s := open(t, "file:"+path)
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping before: %v", err)
			}
			tc.do(t, path)
			err := s.Ping(t.Context())
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no longer") {
				t.Errorf("Ping after the file went: %v, want an error naming %s", err, path)
			}
		})
	}
	// In memory there is no file to lose.
	if err := open(t, ":memory:").Ping(t.Context()); err != nil {
		t.Errorf("Ping in memory: %v", err)
	}
}

// TestCreated: Open says whether it created the database file, so that a mistyped
// storage.dsn is not silently a new, empty store.
func TestCreated(t *testing.T) {
	dsn := fileDSN(t)
	s, err := sqlite.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created() {
		t.Error("a new file: Created() is false")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if open(t, dsn).Created() {
		t.Error("an existing file: Created() is true")
	}
}

// TestWritesRefusedOnceFileGone: once the store has found its file deleted or replaced, a
// write fails, naming the file, instead of committing to the unlinked file where it would
// be lost at the next start; what is read still answers from the open file.
func TestWritesRefusedOnceFileGone(t *testing.T) {
	for _, removeDir := range []bool{true, false} {
		t.Run(map[bool]string{true: "directory removed", false: "file replaced"}[removeDir], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "emfa.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			s := open(t, "file:"+path)
			ctx := t.Context()
			if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			if removeDir {
				// The checkpointer, woken by the write, may open the files again while
				// RemoveAll empties the directory ("directory not empty"): remove it until
				// it is gone, as an operator's rm -rf run twice would.
				var err error
				for range 100 {
					if err = os.RemoveAll(filepath.Dir(path)); err == nil {
						break
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err := os.WriteFile(path+".other", nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(path+".other", path); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Ping(ctx); err == nil {
				t.Fatal("Ping after the file went: nil")
			}
			err := s.CreateUser(ctx, store.User{ID: "u2", Name: "bob", CreatedAt: time.Now()})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no longer") {
				t.Errorf("a write once the file went: %v, want an error naming %s", err, path)
			}
			if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrNotFound) {
				t.Errorf("a refused write reads as a business answer: %v", err)
			}
			err = s.Update(ctx, func(w store.Writer) error {
				return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Resource: "validate", Outcome: "SUCCESS"})
			})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("a unit once the file went: %v, want an error naming %s", err, path)
			}
			if removeDir {
				if u, err := s.GetUser(ctx, "alice"); err != nil || u.ID != "u1" {
					t.Errorf("a read once the file went: %v %v", u, err)
				}
			}
		})
	}
}

// TestCheckFileAtCommit: a store opened with CheckFileAtCommit (a command's, beside a
// serve) refuses the first write after its file was removed (a serve whose first start
// failed removes the store it created) or replaced, with no Ping or checkpoint to notice
// it first: the write would go to the unlinked file, be answered as done, and be lost. A
// unit (a group commit) is refused as a single statement is.
func TestCheckFileAtCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		do   func(path string) error
	}{
		{"file removed", os.Remove},
		{"directory removed", func(path string) error { return os.RemoveAll(filepath.Dir(path)) }},
		{"file replaced", func(path string) error {
			if err := os.WriteFile(path+".other", nil, 0o600); err != nil {
				return err
			}
			return os.Rename(path+".other", path)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "data", "emfa.db")
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			s, err := sqlite.Open(t.Context(), path, sqlite.CheckFileAtCommit())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := t.Context()
			if err := s.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: time.Now()}); err != nil {
				t.Fatalf("a write before the file went: %v", err)
			}
			if err := tc.do(path); err != nil {
				t.Fatal(err)
			}
			err = s.CreateUser(ctx, store.User{ID: "u2", Name: "bob", CreatedAt: time.Now()})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no longer") {
				t.Errorf("the first write after the file went: %v, want a refusal naming %s", err, path)
			}
			err = s.Update(ctx, func(w store.Writer) error {
				return w.AppendAudit(ctx, store.AuditEvent{Time: time.Now(), Username: "alice", Resource: "validate", Outcome: "SUCCESS"})
			})
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("a unit after the file went: %v, want a refusal naming %s", err, path)
			}
		})
	}
}
