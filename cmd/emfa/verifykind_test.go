package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/emfa/emfa/internal/verifyfake"
)

// TestRegisterKeepsNotificationWebhook: register finds the provider's real-time
// webhook by name; a notification webhook of the same name (the one that feeds emfa's
// /sync/verify, say) is not that webhook, and is left as it is.
func TestRegisterKeepsNotificationWebhook(t *testing.T) {
	cfg := writeTestConfig(t, "", oauthProviders)
	tenant := verifyfake.New("api-client", "api-secret")
	defer tenant.Close()
	cc := clientcredentials.Config{ClientID: "api-client", ClientSecret: "api-secret", TokenURL: tenant.URL + "/v1.0/endpoint/default/token"}
	resp, err := cc.Client(context.Background()).Post(tenant.URL+"/config/v1.0/webhooks", "application/json",
		strings.NewReader(`{"name":"Built-in factors","type":"notification","urls":["https://emfa.example.com/sync/verify"],
		 "notification":{"interests":[{"name":"users","clauses":[]}]}}`))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("seed: %v %v", resp, err)
	}
	resp.Body.Close()
	t.Setenv("EMFA_VERIFY_CLIENT_SECRET", "api-secret")
	_, out, errOut := emfa(t, "verify", "register", "--config", cfg, "--tenant", tenant.URL, "--client-id", "api-client",
		"--url", "https://emfa.example.com", "--auth", "basic", "--allow-http")
	var notification, realtime int
	for _, h := range tenant.Webhooks() {
		switch h["type"] {
		case "notification":
			notification++
		case "realtime":
			realtime++
		}
	}
	if notification != 1 || realtime != 1 {
		t.Errorf("webhooks: %d notification, %d realtime, want 1 and 1 (writes %v)\n%s%s", notification, realtime, tenant.Writes(), out, errOut)
	}
}
