package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Path is the file a SQLite DSN names, or "" for an in-memory database or a DSN that is
// not one. It is the file Open opens, whatever bytes its name holds: a "file:" URI's
// %-escapes are decoded, and a '#' is part of the name (SQLite alone would end the name
// there, and open "emfa" for "file:/srv/emfa#2/emfa.db").
func Path(dsn string) string {
	base, _, memory, err := parseDSN(dsn)
	if err != nil || memory {
		return ""
	}
	return dbPath(base)
}

// uri is the SQLite URI of the file at path, with the bytes a URI would read otherwise
// ('%', '?', '#') escaped, so that SQLite opens the file Path names.
func uri(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}

// dbPath is the file a DSN names, or "" for an in-memory database (parseDSN's base).
func dbPath(base string) string {
	if base == "" || base == ":memory:" || strings.HasPrefix(base, "file::memory:") {
		return ""
	}
	p, ok := strings.CutPrefix(base, "file:")
	if !ok {
		return base
	}
	if rest, ok := strings.CutPrefix(p, "//"); ok { // file://host/path: only a local host
		_, path, _ := strings.Cut(rest, "/")
		p = "/" + path
	}
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	return p
}

// createPrivate creates the database file 0600 before SQLite does (it would create it
// 0644 less the umask). SQLite gives its -wal and -shm files the mode of the database
// file, so they are private too. An existing file is left as it is; FileModeWarnings
// says when it is readable by others. created tells whether the file is new.
func createPrivate(base string, query url.Values) (created bool, err error) {
	path := dbPath(base)
	if path == "" || query.Get("mode") == "ro" || query.Get("mode") == "memory" {
		return false, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	// The umask only takes bits away from 0600, but make the mode certain.
	return true, errors.Join(f.Chmod(0o600), f.Close())
}

// FileModeWarnings lists the database's files (and their directory) that other users of
// the machine may read, for emfa check and serve to report; nil for an in-memory
// database or a PostgreSQL DSN handed here by mistake.
func FileModeWarnings(dsn string) []string {
	base, _, memory, err := parseDSN(dsn)
	path := dbPath(base)
	if err != nil || memory || path == "" {
		return nil
	}
	var out []string
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o004 != 0 {
			out = append(out, fmt.Sprintf("%s is readable by other users (mode %04o): it holds sealed seeds and the audit trail; chmod 600 it", p, fi.Mode().Perm()))
		}
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o004 != 0 {
		out = append(out, fmt.Sprintf("%s, the database's directory, is readable by other users (mode %04o); chmod 700 it", dir, fi.Mode().Perm()))
	}
	return out
}
