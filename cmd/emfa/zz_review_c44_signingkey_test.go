package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReviewC44SigningKeyDanglingLink: signingKeyFile naming a symbolic link to a file
// that is not there (a link into a volume not mounted, a Secret's key removed under a link
// kept by hand) was read as no file, a key generated, and its exclusive creation refused
// by the link: the generation started again, and again, until the stack ran out and the
// process died — at a start, or in the middle of serving at a reload that named it. It is
// now refused, naming the link: a start fails, a reload keeps the running key.
func TestReviewC44SigningKeyDanglingLink(t *testing.T) {
	cfg := oauthConfig(t)
	keyFile := filepath.Join(filepath.Dir(cfg), "oauth.pem")
	base, logs, reload := reloadingServe(t, cfg)
	link := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone", "key.pem"), link); err != nil {
		t.Fatal(err)
	}
	doc := mustRead(t, cfg)
	if !strings.Contains(doc, keyFile) {
		t.Fatalf("oauthConfig no longer names %s", keyFile)
	}
	replaceFile(t, cfg, strings.Replace(doc, keyFile, link, 1))
	if err := reload(); err == nil {
		t.Error("a reload with a signing key file linked to nothing succeeded")
	}
	if !strings.Contains(logs.String(), link) || !strings.Contains(logs.String(), "symbolic link") {
		t.Errorf("the log does not name the link:\n%s", grepLines(logs.String(), "reload"))
	}
	if code := testStatus(t, base, ""); code == 0 {
		t.Error("emfa no longer answers")
	}
}
