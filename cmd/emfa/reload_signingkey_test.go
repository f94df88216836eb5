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
	cfg := oauthConfig(t)
	keyFile := filepath.Join(filepath.Dir(cfg), "oauth.pem")
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
	call := func() int {
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

// TestReloadTurnsTheTokenEndpointOn: a reload that turns the OAuth token endpoint
// on, where none ran, generates its signing key as a start does: no token of a running
// key is lost by it.
func TestReloadTurnsTheTokenEndpointOn(t *testing.T) {
	withOAuth := mustRead(t, oauthConfig(t))
	cfg := writeConfig(t, "")
	keyFile := filepath.Join(t.TempDir(), "oauth.pem")
	_, logs, reload := reloadingServe(t, cfg)
	at := strings.Index(withOAuth, "    oauth: {")
	if at < 0 {
		t.Fatal("oauthConfig no longer has its oauth line")
	}
	line := withOAuth[at : at+strings.Index(withOAuth[at:], "\n")+1]
	line = line[:strings.Index(line, "signingKeyFile: ")] + "signingKeyFile: " + keyFile + "}\n"
	replaceFile(t, cfg, strings.Replace(mustRead(t, cfg), "  auth:\n", "  auth:\n"+line, 1))
	if err := reload(); err != nil {
		t.Fatalf("a reload turning the token endpoint on: %v\n%s", err, grepLines(logs.String(), "reload"))
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("no signing key generated: %v", err)
	}
}
