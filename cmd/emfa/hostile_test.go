package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// testVerifyPassword is what the test configurations make Verify send.
const testVerifyPassword = "sim-password-0123"

// hostileCall is one request of issue 15 and the answer the contract asks for.
type hostileCall struct {
	name, resource, body string
	status               int
	answer               string
	audited              bool // a decision row must be written
}

func hostileCalls() []hostileCall {
	big := strings.Repeat("x", 30<<10)
	return []hostileCall{
		{"NUL in username (enrollments)", "enrollments", `{"username":"a\u0000"}`, 200, `[]`, true},
		{"C1 control in username (enrollments)", "enrollments", `{"username":"a\u0085"}`, 200, `[]`, true},
		{"30 KB username (enrollments)", "enrollments", `{"username":"` + big + `"}`, 200, `[]`, true},
		{"NUL in id (validate)", "validate", `{"capability":"totp","id":"x\u0000","attributes":{"username":"alice","passvalue":"123456"}}`, 200, `{"status":"FAILED"}`, true},
		{"NUL in id (initiate)", "initiate", `{"capability":"totp","id":"x\u0000","attributes":{"username":"alice"}}`, 200, `{"status":"FAILED"}`, true},
		{"NUL in transactionId (validate)", "validate", `{"capability":"totp","id":"f1","transactionId":"t\u0000","attributes":{"username":"alice","passvalue":"1"}}`, 200, `{"status":"FAILED"}`, true},
		{"NUL in transactionId (result)", "result", `{"capability":"totp","id":"f1","transactionId":"t\u0000","attributes":{"username":"alice"}}`, 200, `{"status":"FAILED"}`, true},
		{"NUL in attributes.username", "validate", `{"capability":"totp","id":"f1","attributes":{"username":"alice\u0000","passvalue":"1"}}`, 200, `{"status":"FAILED"}`, true},
		{"NUL in capability", "initiate", `{"capability":"totp\u0000","id":"f1","attributes":{"username":"alice"}}`, 200, `{"status":"FAILED"}`, true},
		{"newline in username", "initiate", `{"capability":"totp","id":"f1","attributes":{"username":"alice\nforged"}}`, 200, `{"status":"FAILED"}`, true},
		{"30 KB id", "validate", `{"capability":"totp","id":"` + big + `","attributes":{"username":"alice","passvalue":"1"}}`, 200, `{"status":"FAILED"}`, true},
		{"30 KB username", "initiate", `{"capability":"totp","id":"f1","attributes":{"username":"` + big + `"}}`, 200, `{"status":"FAILED"}`, true},
		{"duplicate username", "enrollments", `{"username":"nobody","username":"alice"}`, 400,
			`{"messageId":"invalid_request","messageDescription":"body is ambiguous: duplicate key \"username\""}`, false},
		{"duplicate attributes.username", "validate", `{"capability":"totp","id":"f1","attributes":{"username":"nobody","passvalue":"1","username":"alice"}}`, 400,
			`{"messageId":"invalid_request","messageDescription":"body is ambiguous: duplicate key \"attributes.username\""}`, false},
		{"30 KB transactionId", "result", `{"capability":"totp","id":"f1","transactionId":"` + big + `","attributes":{"username":"alice"}}`, 200, `{"status":"FAILED"}`, true},
	}
}

// TestHostileInputs is issue 15 items 1, 5 and 6: control characters, oversized values
// and duplicate keys are answered alike on SQLite and PostgreSQL — never a 5xx — and
// every decision is audited, bounded.
func TestHostileInputs(t *testing.T) {
	answers := map[string][]string{}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			storage := ""
			if backend == "postgres" {
				sv := testdb.Connect(t)
				storage = fmt.Sprintf("driver: postgres\n  dsn: %q", sv.Migrated(t))
			}
			ctx := context.Background()
			logs := &lockedLog{}
			d := &deps{stderr: logs, now: time.Now}
			e, err := d.openEnv(ctx, storeOptions{config: writeConfig(t, storage)}, forServe)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			if err := e.store.CreateUser(ctx, store.User{ID: "u1", Name: "alice", CreatedAt: e.now()}); err != nil {
				t.Fatal(err)
			}
			providers, err := e.providers()
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(adapter.New(adapter.Options{Providers: providers, Log: e.log,
				MaxBodyBytes: e.cfg.Server.MaxBodyBytes, Auth: adapterAuth(e.cfg)}).Handler())
			t.Cleanup(srv.Close)

			audited := 0
			for _, c := range hostileCalls() {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/providers/emfa/"+c.resource, strings.NewReader(c.body))
				req.SetBasicAuth("verify", testVerifyPassword)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got := strings.TrimSpace(string(body))
				answers[backend] = append(answers[backend], fmt.Sprint(resp.StatusCode, " ", got))
				if resp.StatusCode != c.status || got != c.answer {
					t.Errorf("%s: %d %.200s, want %d %s", c.name, resp.StatusCode, got, c.status, c.answer)
				}
				if c.audited {
					audited++
				}
			}
			if strings.Contains(logs.String(), "audit write") || strings.Contains(logs.String(), "server fault") {
				t.Errorf("an audit write or a request failed:\n%.2000s", logs)
			}
			events, err := e.store.ListAudit(ctx, store.AuditFilter{Limit: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != audited {
				t.Errorf("%d audit rows, want %d", len(events), audited)
			}
			for _, ev := range events {
				for _, v := range []string{ev.Username, ev.FactorID, ev.Capability, ev.Reason} {
					if len(v) > 600 || strings.ContainsAny(v, "\x00\n\u0085") {
						t.Errorf("audit row keeps an unbounded or raw value: %.100q", v)
					}
				}
			}
			for _, line := range strings.Split(logs.String(), "\n") {
				if len(line) > 4<<10 {
					t.Errorf("log line of %d bytes: %.200s", len(line), line)
				}
			}
		})
	}
	if len(answers["postgres"]) > 0 {
		if diff := cmp.Diff(answers["sqlite"], answers["postgres"]); diff != "" {
			t.Errorf("SQLite and PostgreSQL answer differently (-sqlite +postgres):\n%s", diff)
		}
	}
}

// TestServeOversizedHeaderIsJSON: emfa serve bounds headers (adapter.MaxHeaderBytes) and
// answers the overflow in JSON, not net/http's plain text.
func TestServeOversizedHeaderIsJSON(t *testing.T) {
	base, _ := startServe(t, writeConfig(t, ""))
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", adapter.MaxHeaderBytes+8<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(body), `"messageId":"header_too_large"`) {
		t.Errorf("oversized header: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}
