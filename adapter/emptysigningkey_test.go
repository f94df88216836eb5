package adapter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEmptySigningKeyFile: a signing key's file that exists but is empty (its
// writer died before writing, or it was created by hand) is named as empty, with what
// to do, not refused as holding "no PEM block".
func TestEmptySigningKeyFile(t *testing.T) {
	wait := emptyKeyWait
	emptyKeyWait = 0
	t.Cleanup(func() { emptyKeyWait = wait })
	path := filepath.Join(t.TempDir(), "oauth-signing-key.pem")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := SigningKeyFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("err %v: want one naming %s as empty", err, path)
	}
	// A key kept whole still reads.
	os.Remove(path)
	k1, err := SigningKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := SigningKeyFile(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("kept key not read back: %v", err)
	}
}

// TestSigningKeyFileDanglingLink: a key's file that is a symbolic link to nothing reads
// as no file, and its exclusive create is refused by the link. It was tried again
// without end (the stack ran out, or a start hung); it is refused, naming the path, and
// nothing is written where the link points.
func TestSigningKeyFileDanglingLink(t *testing.T) {
	dir := t.TempDir()
	path, target := filepath.Join(dir, "oauth-signing-key.pem"), filepath.Join(dir, "gone", "key.pem")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	_, err := SigningKeyFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("err %v: want one naming %s as a link to nothing", err, path)
	}
	if _, err := os.Stat(target); err == nil {
		t.Fatalf("a key was written at %s, where the link points", target)
	}
}
