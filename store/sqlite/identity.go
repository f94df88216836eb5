package sqlite

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
)

// fileIdentity is the database file as Open found it: which file (device and inode,
// through os.SameFile) the store's connections hold open. A directory removed under a
// running server (rm -rf data) or a file put in its place leaves SQLite committing to the
// unlinked file: every write succeeds and is lost at the next start, and the
// .serve.lock beside it has gone too, so a second server could start on a new file.
// Nothing in SQLite says so; comparing the path's file with the opened one does.
type fileIdentity struct {
	path   string
	opened os.FileInfo
	gone   atomic.Bool // said once in the log (Ping's callers may log each probe too)
}

// check reports an error when path no longer names the file the store opened.
func (f *fileIdentity) check(s *Store) error {
	now, err := os.Stat(f.path)
	if err == nil && os.SameFile(f.opened, now) {
		return nil
	}
	why := "it was deleted (or its directory was)"
	if err == nil {
		why = "another file was put in its place"
	}
	err = fmt.Errorf("sqlite: the database file emfa has open is no longer the file at %s: %s; writes go to the "+
		"unlinked file and are lost when emfa stops: stop emfa, restore the file (copy /proc/<pid>/fd/… before "+
		"stopping, or a backup) and start again", f.path, why)
	if !f.gone.Swap(true) && s.log != nil {
		s.log.Error("storage: " + err.Error())
	}
	return err
}

// Ping reports whether the database answers and is still the file at the DSN's path
// (fileIdentity): /readyz answers 503 otherwise.
func (s *Store) Ping(ctx context.Context) error {
	if s.file != nil {
		if err := s.file.check(s); err != nil {
			return err
		}
	}
	return s.Store.Ping(ctx)
}

// Created reports whether Open created the database file: a new, empty store, which a
// mistyped storage.dsn also gives.
func (s *Store) Created() bool { return s.created }
