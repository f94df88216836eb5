package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReloadGeneratesNoSigningKey: a reload after the OAuth signing key's file
// was removed (a volume wiped, a cleanup run too wide) generated a new key, as a first
// start does, and said nothing: every token emfa had issued to Verify was refused from
// then on, until Verify fetched another. A reload now creates no key: it fails, naming
// the file, and the running key keeps admitting the tokens it signed.
func TestReloadGeneratesNoSigningKey(t *testing.T) {
	_, keyFile, logs, reload, call := tokenServe(t)
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err == nil {
		t.Error("a reload without the signing key's file succeeded")
	}
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("the reload generated %s: %v", keyFile, err)
	}
	if !strings.Contains(logs.String(), keyFile) || !strings.Contains(logs.String(), "a reload generates no secret") {
		t.Errorf("the log does not name the file and why:\n%s", grepLines(logs.String(), "reload"))
	}
	if code := call(); code != 200 {
		t.Errorf("after the reload, the token emfa issued Verify before it: %d, want 200", code)
	}
}

// TestSigningKeyGeneratedSaid: the first start of a token endpoint without a signingKey
// generated the key's file (by default ./emfa-data/oauth-signing-key.pem, beside a store
// configured elsewhere) and said nothing, where the Verify password and the encryption
// key it generates are said with their files: an operator did not know a key to keep
// had been made, nor where.
func TestSigningKeyGeneratedSaid(t *testing.T) {
	_, keyFile, logs, _, _ := tokenServe(t)
	if lines := grepLines(logs.String(), "generated"); !strings.Contains(lines, "signing key") || !strings.Contains(lines, keyFile) {
		t.Errorf("the log does not say the signing key was generated, and where:\n%s", logs.String())
	}
}

// TestReloadTurnsTheTokenEndpointOn: a reload that turns the OAuth token endpoint
// on, where none ran, generates its signing key as a start does: no token of a running
// key is lost by it.
func TestReloadTurnsTheTokenEndpointOn(t *testing.T) {
	cfg := writeConfig(t, "")
	keyFile := filepath.Join(t.TempDir(), "oauth.pem")
	_, logs, reload := reloadingServe(t, cfg)
	turnTokensOn(t, cfg, keyFile)
	if err := reload(); err != nil {
		t.Fatalf("a reload turning the token endpoint on: %v\n%s", err, grepLines(logs.String(), "reload"))
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("no signing key generated: %v", err)
	}
}

// TestSigningKeyDanglingLink: signingKeyFile naming a symbolic link to a file
// that is not there (a link into a volume not mounted, a Secret's key removed under a link
// kept by hand) was read as no file, a key generated, and its exclusive creation refused
// by the link: the generation started again, and again, until the stack ran out and the
// process died — at a start, or in the middle of serving at the reload that turned the
// token endpoint on. It is now refused, naming the link.
func TestSigningKeyDanglingLink(t *testing.T) {
	cfg := writeConfig(t, "")
	base, logs, reload := reloadingServe(t, cfg)
	link := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.Symlink(filepath.Join(t.TempDir(), "gone", "key.pem"), link); err != nil {
		t.Fatal(err)
	}
	turnTokensOn(t, cfg, link)
	if err := reload(); err == nil {
		t.Error("a reload with a signing key file linked to nothing succeeded")
	}
	if !strings.Contains(logs.String(), link) || !strings.Contains(logs.String(), "symbolic link") {
		t.Errorf("the log does not name the link:\n%s", grepLines(logs.String(), "reload"))
	}
	if code := testStatus(t, base, "sim-password-0123"); code != 200 {
		t.Errorf("after the reload: %d, want 200", code)
	}
}

// TestReloadKeepsTheRunningKeyWhenItsFileMoves: a reload naming another file for
// the OAuth signing key (the key moved to a volume of its own, the path mistyped), not
// there yet, generated a new key there, as a first start does: the key that signed
// Verify's tokens was replaced without a word, and each of them refused. A reload now
// generates no key while one runs: it fails, naming the file, until the key is put there.
func TestReloadKeepsTheRunningKeyWhenItsFileMoves(t *testing.T) {
	cfg, keyFile, logs, reload, call := tokenServe(t)
	moved := filepath.Join(t.TempDir(), "keys", "signing.pem")
	doc := mustRead(t, cfg)
	replaceFile(t, cfg, strings.Replace(doc, keyFile, moved, 1))
	if err := reload(); err == nil {
		t.Error("a reload replaced the running signing key by one generated")
	}
	if _, err := os.Stat(moved); !os.IsNotExist(err) {
		t.Errorf("the reload generated %s: %v", moved, err)
	}
	if !strings.Contains(logs.String(), moved) {
		t.Errorf("the log does not name the file:\n%s", grepLines(logs.String(), "reload"))
	}
	if code := call(); code != 200 {
		t.Errorf("after the reload, the token emfa issued Verify before it: %d, want 200", code)
	}
	// The key put where the file now says: the reload applies, and the tokens hold.
	if err := os.MkdirAll(filepath.Dir(moved), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(moved, []byte(mustRead(t, keyFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reload(); err != nil {
		t.Fatalf("reload with the key moved: %v\n%s", err, grepLines(logs.String(), "reload"))
	}
	if code := call(); code != 200 {
		t.Errorf("after the key moved, Verify's token: %d, want 200", code)
	}
}

// tokenServe serves oauthConfig's configuration, its signing key in keyFile, with a
// token issued to a client "verify"; call makes a contract call with that token.
func tokenServe(t *testing.T) (cfg, keyFile string, logs *lockedLog, reload func() error, call func() int) {
	t.Helper()
	cfg = oauthConfig(t)
	keyFile = filepath.Join(filepath.Dir(cfg), "oauth.pem")
	m := clientLine.FindStringSubmatch(mustEmfa(t, "clients", "create", "--name", "verify", "--config", cfg, "--init"))
	if m == nil {
		t.Fatal("clients create printed no client")
	}
	base, logs, reload := reloadingServe(t, cfg)
	resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {m[1]}, "client_secret": {m[2]}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	call = func() int {
		req, _ := http.NewRequest("GET", base+"/v1/providers/emfa/test", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(); code != 200 {
		t.Fatalf("before the reload, Verify's token: %d", code)
	}
	return cfg, keyFile, logs, reload, call
}

// turnTokensOn rewrites cfg (one without OAuth) with oauthConfig's token endpoint, its
// signing key kept in keyFile.
func turnTokensOn(t *testing.T, cfg, keyFile string) {
	t.Helper()
	withOAuth := mustRead(t, oauthConfig(t))
	at := strings.Index(withOAuth, "    oauth: {")
	if at < 0 {
		t.Fatal("oauthConfig no longer has its oauth line")
	}
	line := withOAuth[at : at+strings.Index(withOAuth[at:], "\n")+1]
	line = line[:strings.Index(line, "signingKeyFile: ")] + "signingKeyFile: " + keyFile + "}\n"
	replaceFile(t, cfg, strings.Replace(mustRead(t, cfg), "  auth:\n", "  auth:\n"+line, 1))
}
