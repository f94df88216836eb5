package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/lifecycle"
)

// TestAdminIdempotencyKeyServed: serve honours Idempotency-Key on the admin API, on the
// main listener and on admin.listen alike: a retried activation link is the first one,
// not a second.
func TestAdminIdempotencyKeyServed(t *testing.T) {
	for name, extra := range map[string]string{"main listener": "", "admin.listen": "admin:\n  listen: \"127.0.0.1:0\"\n"} {
		t.Run(name, func(t *testing.T) {
			mail := smtpfake.Start(t, smtpfake.Options{})
			cfg := appendConfig(t, selfServiceConfig(t, mail, "https://mfa.example.com"), extra)
			snap, err := openTestEnv(t, cfg).snapshot(snapshotOptions{})
			if err != nil {
				t.Fatal(err)
			}
			h := snap.handler
			if snap.admin != nil {
				h = snap.admin
			}
			ctx := context.Background()
			token, err := snap.manager.CreateToken(ctx, "cli", "idm", lifecycle.ScopeWrite)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := snap.manager.CreateUser(ctx, "cli", lifecycle.UserInput{Name: "alice"}); err != nil {
				t.Fatal(err)
			}
			post := func() (int, string) {
				req := httptest.NewRequest(http.MethodPost, "/admin/v1/users/alice/activation-link", strings.NewReader(`{"deliver":false}`))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "link-alice-1")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec.Code, rec.Body.String()
			}
			code, first := post()
			if code != http.StatusCreated || !linkRE.MatchString(first) {
				t.Fatalf("first: %d %s", code, first)
			}
			if code, again := post(); code != http.StatusCreated || again != first {
				t.Errorf("the retry: %d %s, want the first link %s", code, again, first)
			}
		})
	}
}
