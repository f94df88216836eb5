package provider_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// replayingEngine refuses every code as replayed, deciding before any unit of writes: as
// the built-in engine answers the retry of a code its first attempt used.
type replayingEngine struct{ erringEngine }

func (replayingEngine) Validate(context.Context, provider.Request) (provider.Outcome, error) {
	return provider.Failed("replayed code"), nil
}

func (replayingEngine) DecidesInOneUnit(string) bool { return true }

// TestSupersededAttemptLogsNoDecision: a retry whose late claim loses to its first
// attempt's record is answered that record; the decision it computed on the way (the
// code replayed: by its own first attempt) is neither audited nor logged, or the log
// would contradict the answer sent and alert on a replay that never was.
func TestSupersededAttemptLogsNoDecision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		var logs bytes.Buffer
		p := &provider.Provider{CredentialPrefix: "emfa", Enabled: true, Capabilities: []string{"totp"},
			Engine: replayingEngine{}, Audit: st, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
		idem := &provider.Idempotency{Store: st, TTL: time.Minute, Lease: 10 * time.Second}
		key := store.IdempotencyKey{Provider: "emfa", WebhookID: "wh-totp-1", Fingerprint: "validate:x"}
		now := time.Now()
		first := []byte(`{"status":"SUCCESS"}`)
		if c, err := st.RecordIdempotency(ctx, key, "first", 200, first, now.Add(10*time.Second), now.Add(time.Minute), now); err != nil || !c.Claimed {
			t.Fatalf("first attempt's record: %+v %v", c, err)
		}
		ans, served, _, err := idem.DoLate(ctx, key, func(ctx context.Context) (provider.Answer, error) {
			out, err := p.Validate(ctx, provider.Request{Capability: "totp", ID: "f1", Username: "alice", Passvalue: "123456",
				WebhookID: key.WebhookID})
			if err != nil {
				return provider.Answer{}, err
			}
			return provider.Answer{Status: 200, Body: []byte(`{"status":"` + string(out.Status) + `"}`)}, nil
		})
		if err != nil || served != provider.Replayed || !bytes.Equal(ans.Body, first) {
			t.Fatalf("retry: %s %v %v, want the first attempt's answer", ans.Body, served, err)
		}
		if strings.Contains(logs.String(), `"msg":"decision"`) {
			t.Errorf("the superseded attempt logged a decision:\n%s", logs.String())
		}
		events, err := st.ListAudit(ctx, store.AuditFilter{})
		if err != nil || len(events) != 0 {
			t.Errorf("audit rows: %+v %v, want none", events, err)
		}
	})
}
