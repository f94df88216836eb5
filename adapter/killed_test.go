package adapter

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/store/postgres"
	"github.com/emfa/emfa/store/sqlite"
)

// s65ChildEnv tells the test binary it runs as the replica TestKilledMidSend
// kills: "kind|dsn|factor".
const s65ChildEnv = "EMFA_S65_KILLED_REPLICA"

// s65Open opens the store of kind at dsn.
func s65Open(t *testing.T, kind, dsn string) store.Store {
	t.Helper()
	var st store.Store
	var err error
	if kind == "sqlite" {
		st, err = sqlite.Open(context.Background(), dsn)
	} else {
		st, err = postgres.Open(context.Background(), dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// s65Replica is a replica of c59Replicas's on st, sending by sender, on clock (nil: real time).
func s65Replica(t *testing.T, st store.Store, now func() time.Time, sender delivery.Sender) (*c59Replica, *builtin.Engine) {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: now, Capabilities: []string{"smsotp"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "sms"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sender, nil }})
	if err != nil {
		t.Fatal(err)
	}
	p := &provider.Provider{Name: "A", CredentialPrefix: "acme", Enabled: true, Capabilities: []string{"smsotp"},
		Engine: engine, Audit: st, Now: now}
	srv := New(Options{Providers: []*provider.Provider{p}, Auth: Auth{AllowAnonymous: true},
		RequestTimeout: 5 * time.Second,
		Idempotency: &provider.Idempotency{Store: st, TTL: 10 * time.Minute, Lease: provider.RenewedLease,
			Renew: provider.RenewInterval, Poll: time.Millisecond, Now: now}})
	return &c59Replica{st: st, srv: srv}, engine
}

// s65StuckSender says on stdout that it sends, and never returns: the process is killed
// mid-send.
type s65StuckSender struct{}

func (s65StuckSender) Kind() string                 { return "stuck" }
func (s65StuckSender) Serves(delivery.Channel) bool { return true }
func (s65StuckSender) Send(ctx context.Context, m delivery.Message) error {
	fmt.Fprintf(os.Stdout, "\nS65-SENDING %s\n", m.Code)
	select {}
}

// TestKilledReplicaHelper is the replica TestKilledMidSend starts in a
// process of its own and kills with SIGKILL while it sends the code.
func TestKilledReplicaHelper(t *testing.T) {
	spec := os.Getenv(s65ChildEnv)
	if spec == "" {
		t.Skip("the replica TestKilledMidSend starts and kills")
	}
	parts := strings.SplitN(spec, "|", 3)
	st := s65Open(t, parts[0], parts[1])
	r, _ := s65Replica(t, st, nil, s65StuckSender{})
	r.call(t, "initiate", "wh-killed", s65InitiateBody(parts[2]))
	t.Fatal("the initiate answered; it was to be killed mid-send")
}

func s65InitiateBody(factor string) string {
	return `{"capability":"smsotp","id":"` + factor + `","attributes":{"username":"alice"}}`
}

// TestKilledMidSend: a replica claims Verify's initiate and is killed with SIGKILL
// (a real process, its store connections dropped by the kernel) while its code is on its
// way. Verify's retry on another replica of the same SQLite file or PostgreSQL database,
// while the dead one's lease lasts, is answered 503 retry_in_progress and sends nothing;
// once the lease has passed it runs the call once: PENDING, one code, one audit row, and
// that code validates. Its own retry gets the same answer.
func TestKilledMidSend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			var dsn string
			if kind == "sqlite" {
				dsn = "file:" + filepath.Join(t.TempDir(), "emfa.db")
			} else {
				sv := testdb.Connect(t)
				dsn = sv.SchemaDSN(t, sv.NewSchema(t))
			}
			st := s65Open(t, kind, dsn)
			clock := &c59Clock{t: time.Now()}
			sms := &c59Sender{}
			b, engine := s65Replica(t, st, clock.Now, sms)
			if err := st.CreateUser(ctx, store.User{ID: "u-alice", Name: "alice", CreatedAt: clock.Now()}); err != nil {
				t.Fatal(err)
			}
			en, err := engine.Enroll(ctx, builtin.Enrollment{Type: "smsotp", User: "alice", Values: url.Values{"phone": {"+15551230123"}}})
			if err != nil {
				t.Fatal(err)
			}
			factor := en.Factor.ID

			child := exec.Command(os.Args[0], "-test.run=^TestKilledReplicaHelper$", "-test.count=1", "-test.timeout=60s")
			child.Env = append(os.Environ(), s65ChildEnv+"="+kind+"|"+dsn+"|"+factor)
			out, err := child.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			child.Stderr = &stderr
			if err := child.Start(); err != nil {
				t.Fatal(err)
			}
			killed := false
			t.Cleanup(func() {
				if !killed {
					child.Process.Kill()
					child.Wait()
				}
			})
			sending := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(out)
				var seen []string
				for sc.Scan() {
					if code, ok := strings.CutPrefix(sc.Text(), "S65-SENDING "); ok {
						sending <- code
						return
					}
					seen = append(seen, sc.Text())
				}
				sending <- "exited: " + strings.Join(seen, "\n")
			}()
			var childCode string
			select {
			case childCode = <-sending:
			case <-time.After(30 * time.Second):
				t.Fatalf("the replica did not send in 30 s; stderr: %s", stderr.String())
			}
			if strings.HasPrefix(childCode, "exited: ") {
				t.Fatalf("the replica ended before its send: %s %s", childCode, stderr.String())
			}
			if err := child.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
			if err := child.Wait(); err == nil {
				t.Fatal("the killed replica exited cleanly")
			}

			key := store.IdempotencyKey{Provider: "acme", WebhookID: "wh-killed",
				Fingerprint: provider.FingerprintKey(nil).Fingerprint(provider.ResourceInitiate, []byte(s65InitiateBody(factor)))}
			rec, err := st.GetIdempotency(ctx, key)
			if err != nil || rec.Done {
				t.Fatalf("the killed replica's record: %+v %v; want it running", rec, err)
			}
			if txs, err := st.ListPendingTransactions(ctx, factor, clock.Now()); err != nil || len(txs) != 1 {
				t.Fatalf("pending challenges of the killed replica: %+v %v; want its one", txs, err)
			}
			// Within the dead attempt's lease: 503, nothing sent.
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			if c, body := b.callCtx(t, short, "initiate", "wh-killed", s65InitiateBody(factor)); c != 503 || !strings.Contains(body, "retry_in_progress") || len(sms.sent()) != 0 {
				t.Errorf("the retry within the dead attempt's lease: %d %s; %d codes", c, body, len(sms.sent()))
			}
			// Its lease passed (read again: it renewed it while it lived).
			if rec, err = st.GetIdempotency(ctx, key); err != nil {
				t.Fatal(err)
			}
			clock.Set(rec.LeaseUntil)
			c, body := b.call(t, "initiate", "wh-killed", s65InitiateBody(factor))
			status, tx := c59Answer(t, body)
			if c != 200 || status != "PENDING" || tx == "" || len(sms.sent()) != 1 {
				t.Fatalf("the retry after the lease: %d %s; %d codes", c, body, len(sms.sent()))
			}
			if c2, body2 := b.call(t, "initiate", "wh-killed", s65InitiateBody(factor)); c2 != c || body2 != body || len(sms.sent()) != 1 {
				t.Errorf("its retry: %d %s, want %d %s; %d codes", c2, body2, c, body, len(sms.sent()))
			}
			if n := c59Audits(t, st, "initiate"); n != 1 {
				t.Errorf("%d initiate audit rows, want 1", n)
			}
			// The dead replica's challenge, whose code may have gone out, is withdrawn by the
			// retry's: only the retry's is pending, and its code works.
			if txs, err := st.ListPendingTransactions(ctx, factor, clock.Now()); err != nil || len(txs) != 1 || txs[0].ID != "b:"+tx {
				t.Errorf("pending challenges after the retry: %+v %v; want only b:%s", txs, err, tx)
			}
			vb := func(code string) string {
				return `{"capability":"smsotp","id":"` + factor + `","transactionId":"` + tx + `","attributes":{"username":"alice","passvalue":"` + code + `"}}`
			}
			if c, body := b.call(t, "validate", "wh-v1", vb(sms.sent()[0])); c != 200 || !strings.Contains(body, `"SUCCESS"`) {
				t.Errorf("validate with the retry's code: %d %s", c, body)
			}
		})
	}
}
