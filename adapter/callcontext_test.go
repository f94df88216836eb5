package adapter

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/emfa/emfa/provider"
)

// mixedEngine answers an initiate by its username: "panic" panics, "block" waits for
// its request's end (its client goes), anything else succeeds.
type mixedEngine struct{ *fakeEngine }

func (m mixedEngine) Initiate(ctx context.Context, r provider.Request) (provider.Outcome, error) {
	switch r.Username {
	case "panic":
		panic("boom")
	case "block":
		<-ctx.Done()
		return provider.Outcome{}, ctx.Err()
	}
	return provider.Outcome{Status: provider.StatusPending, TransactionID: "tx"}, nil
}

// TestCallContextNotShared: the values a request keeps in its pooled callContext
// (the webhook ID, the provider) are its own in its access log line, among many
// concurrent requests some of which panic and some of whose clients go before the
// answer: a wrapper read after it went back to its pool, or handed to two requests at
// once, shows one request's webhook ID in another's line (or a race under -race).
func TestCallContextNotShared(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Providers[0].Engine = mixedEngine{&fakeEngine{}} })
	ts := httptest.NewServer(h.srv.Handler())
	defer ts.Close()
	const n = 300
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			user := [...]string{"alice", "panic", "block"}[i%3]
			id := fmt.Sprintf("req-%d", i)
			body := `{"capability":"totp","id":"f1","attributes":{"username":"` + user + `"}}`
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/providers/acme/initiate", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Request-Id", id)
			req.Header.Set(HeaderWebhookID, id)
			req.SetBasicAuth("verify", "pw-secret")
			if user == "block" {
				// The client goes once the request is in: the handler waits for that.
				go func() { cancel() }()
			}
			if resp, err := ts.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	ts.Close() // every handler has returned, its line written
	lines := 0
	for _, l := range strings.Split(h.logs.String(), "\n") {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
			WebhookID string `json:"webhook_id"`
			Provider  string `json:"provider"`
		}
		if l == "" || json.Unmarshal([]byte(l), &rec) != nil || rec.Msg != "request" {
			continue
		}
		lines++
		if rec.WebhookID != rec.RequestID || rec.Provider != "acme" {
			t.Errorf("request %s logged with webhook_id %q, provider %q: another request's values", rec.RequestID, rec.WebhookID, rec.Provider)
		}
	}
	if lines < n*2/3 {
		t.Errorf("%d access lines for %d requests", lines, n)
	}
}
