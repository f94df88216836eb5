package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/lifecycle"
)

// TestActivationLinkOnAdminListener: with admin.listen, the admin API is served there
// alone, its activation links included (pointing to the main listener's page), and the
// self-service pages are not.
func TestActivationLinkOnAdminListener(t *testing.T) {
	mail := smtpfake.Start(t, smtpfake.Options{})
	cfg := selfServiceConfig(t, mail, "https://mfa.example.com")
	// selfServiceConfig has no admin section: add one with its own listener.
	cfg = appendConfig(t, cfg, "admin:\n  listen: \"127.0.0.1:0\"\n")
	e := openTestEnv(t, cfg)
	snap, err := e.snapshot(snapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if snap.admin == nil {
		t.Fatal("no admin handler with admin.listen set")
	}
	ctx := context.Background()
	token, err := snap.manager.CreateToken(ctx, "cli", "idm", lifecycle.ScopeWrite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.manager.CreateUser(ctx, "cli", lifecycle.UserInput{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/admin/v1/users/alice/activation-link", strings.NewReader(`{"deliver":false}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	snap.admin.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"url":"https://mfa.example.com/self-service/link/`) {
		t.Errorf("activation link on admin.listen with selfService.enabled: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	snap.admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/self-service/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("the self-service page on the admin listener: %d", rec.Code)
	}
}

func appendConfig(t *testing.T, path, more string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, more...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
