package config

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf16"
)

// maxSecretFileBytes bounds what ${file:PATH} reads: a secret, a key or a PEM block, never
// more (a path to a log or a device by mistake is refused, not read whole).
const maxSecretFileBytes = 64 << 10

// secretFile is what ${file:PATH} found.
type secretFile struct {
	value string
	// missing: the file is not there, or this user may not read it. Like an unset
	// variable, a command that does not need the value only warns (emfa check on a
	// machine without the secrets, or run by another user than serve).
	missing bool
	err     string // a problem with the file itself: always an error
	warn    string // a problem worth saying that does not stop the load
}

// readSecretFile reads the file a ${file:PATH} names: its content less the trailing line
// ending (CR, LF) that `echo` and editors add, and a leading byte-order mark (UTF-16 after
// one decoded). PATH is absolute, or relative to the
// working directory as storage.dsn's path is. Messages name the file, never its content.
func readSecretFile(path string) secretFile {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return secretFile{missing: true, err: fmt.Sprintf("file %s does not exist", path)}
	case errors.Is(err, fs.ErrPermission):
		return secretFile{missing: true, err: fmt.Sprintf("file %s cannot be read by this user", path)}
	case err != nil:
		return secretFile{err: fmt.Sprintf("file %s: %v", path, unwrapPath(err))}
	case !fi.Mode().IsRegular():
		return secretFile{err: fmt.Sprintf("file %s is not a regular file", path)}
	case fi.Size() > maxSecretFileBytes:
		return secretFile{err: fmt.Sprintf("file %s is larger than %d KiB: not a secret", path, maxSecretFileBytes>>10)}
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrPermission) {
		return secretFile{missing: true, err: fmt.Sprintf("file %s cannot be read by this user", path)}
	}
	if err != nil {
		return secretFile{err: fmt.Sprintf("file %s: %v", path, unwrapPath(err))}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	switch {
	case err != nil:
		return secretFile{err: fmt.Sprintf("file %s: %v", path, unwrapPath(err))}
	case len(data) > maxSecretFileBytes: // it grew since the Stat
		return secretFile{err: fmt.Sprintf("file %s is larger than %d KiB: not a secret", path, maxSecretFileBytes>>10)}
	}
	// Windows PowerShell's Set-Content -Encoding UTF8 writes a byte-order mark before the
	// text (and CRLF after it): no secret starts with one. Its > and Out-File (5.1) write
	// UTF-16 after the mark FF FE, read as bytes a NUL after every letter.
	text, ok := secretText(data)
	if !ok {
		return secretFile{err: fmt.Sprintf("file %s starts with a UTF-16 byte-order mark but is no UTF-16 text: save it as UTF-8", path)}
	}
	v := strings.TrimRight(strings.TrimPrefix(text, "\ufeff"), "\r\n")
	if v == "" {
		return secretFile{err: fmt.Sprintf("file %s is empty", path)}
	}
	out := secretFile{value: v}
	// As for the database's files (emfa check and serve warn about those): a Kubernetes
	// Secret volume is 0644 unless its defaultMode says otherwise, Docker's secrets 0444.
	if m := fi.Mode().Perm(); m&0o004 != 0 {
		out.warn = fmt.Sprintf("file %s is readable by other users (mode %04o): chmod 600 it (0400 or 0440 on a Kubernetes Secret volume: defaultMode)", path, m)
	}
	return out
}

// secretText is a secret file's data as text: UTF-16 after its byte-order mark (FF FE,
// or FE FF) decoded, anything else as it is; false for an odd number of bytes after one.
func secretText(data []byte) (string, bool) {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		order = binary.BigEndian
	default:
		return string(data), true
	}
	if len(data)%2 != 0 {
		return "", false
	}
	units := make([]uint16, 0, len(data)/2)
	for i := 0; i < len(data); i += 2 {
		units = append(units, order.Uint16(data[i:]))
	}
	return string(utf16.Decode(units)), true
}

// unwrapPath drops the "stat PATH:" a *fs.PathError repeats: the message names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
