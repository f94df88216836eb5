package main

import (
	"encoding/base64"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/testwait"
)

// TestSelfServiceSignInAcrossKeyRotation: a sign-in under way travels sealed in the
// browser's cookie, with a key derived from storage.encryptionKey. A rotation (the new key
// current, the old one among previousEncryptionKeys) reloaded while a user waits for the
// e-mailed code leaves that sign-in to complete, as the factors' seeds still open; before,
// the cookie opened with the current key only, and the user was sent back to the start.
func TestSelfServiceSignInAcrossKeyRotation(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	app := fakeCLI()
	cfg := selfServiceConfig(t, mail, "http://127.0.0.1:1")
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	base, logs, reload := app.reloadingServe(t, cfg)
	adminCall(t, base, token, "POST", "/admin/v1/users", `{"name":"alice","email":"alice@example.com"}`, 201)
	out := adminCall(t, base, token, "POST", "/admin/v1/users/alice/activation-link", `{"deliver":false}`, 201)
	b := newSSBrowser(t, base)
	b.get(strings.TrimPrefix(out["url"].(string), "http://127.0.0.1:1"))
	if p := b.post("/self-service/enroll", url.Values{"type": {"emailotp"}, "destination": {"alice@example.com"}}); p.title != "Confirm your new sign-in method" {
		t.Fatalf("enroll: %d %q\n%s", p.status, p.title, p.body)
	}
	if p := b.post("/self-service/confirm", url.Values{"code": {lastCode(t, mail, "alice@example.com")}}); p.title != "You are all set" {
		t.Fatalf("confirm: %d %q\n%s", p.status, p.title, p.body)
	}

	// A sign-in starts (past the 30 s send limit) and its code is sent.
	app.clock.Advance(31 * time.Second)
	s := newSSBrowser(t, base)
	s.get("/self-service/")
	mails := len(mail.To("alice@example.com"))
	if p := s.post("/self-service/signin", url.Values{"username": {"alice"}, "method": {"emailotp"}}); p.title != "Enter your code" {
		t.Fatalf("sign-in: %d %q\n%s", p.status, p.title, p.body)
	}
	// The code goes out after the page's answer (the page's sends).
	testwait.Until(t, "the sign-in's code", 10*time.Millisecond, func() bool { return len(mail.To("alice@example.com")) > mails })
	code := lastCode(t, mail, "alice@example.com")

	// The key rotates, reloaded while the user reads the mail.
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	newKey := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	rotated := strings.Replace(string(data), `encryptionKey: "`+testEncryptionKey+`"`,
		`encryptionKey: "`+newKey+`"`+"\n  previousEncryptionKeys: [\""+testEncryptionKey+"\"]", 1)
	if rotated == string(data) {
		t.Fatal("the configuration names no encryption key to rotate")
	}
	replaceFile(t, cfg, rotated)
	if err := reload(); err != nil {
		t.Fatalf("reload with the key rotated: %v\n%s", err, logs)
	}
	app.clock.Advance(time.Minute)

	if p := s.post("/self-service/signin/code", url.Values{"code": {code}}); p.title != "Your sign-in methods" {
		t.Fatalf("the sign-in started before the rotation, completed after it: %d %q\n%s", p.status, p.title, p.body)
	}
}
