package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// nullSender accepts every message.
type nullSender struct{}

func (nullSender) Kind() string                                 { return "null" }
func (nullSender) Serves(delivery.Channel) bool                 { return true }
func (nullSender) Send(context.Context, delivery.Message) error { return nil }

func newManager(tb testing.TB, st store.Store) (*lifecycle.Manager, *clock) {
	tb.Helper()
	return newManagerSending(tb, st, nullSender{})
}

// newManagerSending is newManager with codes sent through sender.
func newManagerSending(tb testing.TB, st store.Store, sender delivery.Sender) (*lifecycle.Manager, *clock) {
	tb.Helper()
	clk := &clock{t: time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)}
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		tb.Fatal(err)
	}
	e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Now: clk.Now,
		Capabilities: []string{"totp", "smsotp", "emailotp", "push"},
		Config: map[string]any{"smsotp": map[string]any{"sender": "null"}, "emailotp": map[string]any{"sender": "null"},
			"sendLimits": map[string]any{"perUser": []any{}, "perDestination": []any{}}},
		Senders: func(string) (delivery.Sender, error) { return sender, nil }})
	if err != nil {
		tb.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, Now: clk.Now,
		Capabilities: map[string][]string{"emfa": {"totp", "smsotp"}}})
	if err != nil {
		tb.Fatal(err)
	}
	return m, clk
}

func parse(t *testing.T, format, text string) ([]lifecycle.ImportRow, []lifecycle.RowResult) {
	t.Helper()
	rows, bad, err := lifecycle.ParseImport(strings.NewReader(text), format)
	if err != nil {
		t.Fatal(err)
	}
	return rows, bad
}

func summary(r lifecycle.ImportReport) string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged, %d deleted, %d refused", r.Created, r.Updated, r.Unchanged, r.Deleted, r.Refused)
}

func TestImport(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		csv := "username,email,phone,displayName,groups,factors\n" +
			"alice,Alice@Example.com,+15550000001,Alice,eng;all,smsotp;emailotp\n" +
			"bob,,+15550000002,Bob,all,voicecall\n" + // voicecall is not exposed, but may be pre-provisioned
			"carol,,555,Carol,all,\n" + // invalid phone
			"dave,,,Dave,all,smsotp\n" + // smsotp without a phone
			"alice,,,,,\n" + // duplicate
			"\"broken,\n"
		rows, bad := parse(t, lifecycle.FormatCSV, csv)
		dry, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(dry); got != "2 created, 0 updated, 0 unchanged, 0 deleted, 4 refused" {
			t.Errorf("dry run: %s", got)
		}
		if users, _ := st.ListUserRecords(ctx, store.UserQuery{}); len(users) != 0 {
			t.Fatalf("a dry run created %d users", len(users))
		}
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(rep); got != "2 created, 0 updated, 0 unchanged, 0 deleted, 4 refused" {
			t.Errorf("import: %s", got)
		}
		codes := map[string]string{}
		for _, r := range rep.Rows {
			if r.Error != nil {
				codes[fmt.Sprint(r.Line, r.Username)] = r.Error.Code + "/" + r.Error.Field
			}
		}
		for _, want := range []string{"invalid_phone/phone", "missing_field/phone", "duplicate_row/username", "invalid_row/"} {
			found := false
			for _, c := range codes {
				found = found || c == want
			}
			if !found {
				t.Errorf("no refusal %s among %v", want, codes)
			}
		}
		alice, err := m.GetUser(ctx, "alice")
		if err != nil || alice.Email != "Alice@example.com" || strings.Join(alice.Groups, ",") != "all,eng" {
			t.Errorf("alice: %+v %v", alice, err)
		}
		fs, _ := m.ListFactors(ctx, "alice")
		if got := byType(fs); len(fs) != 2 || got["smsotp"].State != lifecycle.FactorPendingActivation || got["emailotp"].Activation != lifecycle.ActivationOnFirstUse {
			t.Errorf("alice's factors: %+v", fs)
		}
		for _, name := range []string{"carol", "dave"} {
			if _, err := st.GetUser(ctx, name); err == nil {
				t.Errorf("refused row %s left a user", name)
			}
		}

		// The same file again changes nothing; a changed row is updated, its pending
		// factor re-pointed.
		again, _ := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if got := summary(again); got != "0 created, 0 updated, 2 unchanged, 0 deleted, 4 refused" {
			t.Errorf("re-import: %s", got)
		}
		rows, bad = parse(t, lifecycle.FormatJSONL, `{"username":"alice","email":"alice@example.com","phone":"+15550000009","displayName":"Alice","groups":["all","eng"],"factors":["smsotp","emailotp"]}
{"username":"bob","phone":"+15550000002","displayName":"Bob","groups":["all"],"factors":["voicecall"]}
{"username":"erin","unknown":1}`)
		changed, _ := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if got := summary(changed); got != "0 created, 1 updated, 1 unchanged, 0 deleted, 1 refused" {
			t.Errorf("changed import: %s %+v", got, changed.Rows)
		}
		fs, _ = m.ListFactors(ctx, "alice")
		if len(fs) != 2 || !strings.HasSuffix(byType(fs)["smsotp"].Destination, "0009") {
			t.Errorf("alice's pending SMS factor not re-pointed: %+v", fs)
		}

		// A full import: absent users deleted only within the guard.
		rows, bad = parse(t, lifecycle.FormatJSONL, `{"username":"bob","phone":"+15550000002","displayName":"Bob","groups":["all"],"factors":["voicecall"]}`)
		guarded, _ := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{Full: true, MaxDeletes: 0})
		if guarded.Deleted != 0 || !strings.Contains(guarded.DeletionRefused, "1 users are absent") {
			t.Errorf("guard 0: %s, %q", summary(guarded), guarded.DeletionRefused)
		}
		full, _ := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{Full: true, MaxDeletes: 1})
		if full.Deleted != 1 || full.DeletionRefused != "" {
			t.Errorf("guard 1: %s, %q", summary(full), full.DeletionRefused)
		}
		if _, err := st.GetUser(ctx, "alice"); err == nil {
			t.Error("alice survived a full import without her")
		}
	})
}

// refusingSender refuses every message to one recipient.
type refusingSender struct{ to string }

func (refusingSender) Kind() string                 { return "refusing" }
func (refusingSender) Serves(delivery.Channel) bool { return true }
func (r refusingSender) Send(_ context.Context, m delivery.Message) error {
	if m.To == r.to {
		return fmt.Errorf("no route to %s", m.To)
	}
	return nil
}

// An enrollment's audit record is written with it (builtin.Enrollment.Audit): every factor
// enrolled has its record, saying the state it was enrolled in, and an enrollment undone
// (its activation code not sent) leaves neither a factor nor a record of success.
func TestEnrollmentAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManagerSending(t, st, refusingSender{to: "+15550009999"})
		addAlice(t, m)
		want := map[string]string{} // factor id: reason
		for _, in := range []lifecycle.Enrollment{
			{Type: "totp"}, // pending a passcode, nothing sent
			{Type: "smsotp", Activation: lifecycle.ActivationPasscode, Params: raw(`{"phone":"+15550000001"}`)}, // code sent
			{Type: "emailotp", Activation: lifecycle.ActivationImmediate, Params: raw(`{"email":"a@example.com"}`)},
			{Type: "push"}, // pending its device, with its registration code
		} {
			en, err := m.EnrollFactor(ctx, "test", "alice", in)
			if err != nil {
				t.Fatalf("%s: %v", in.Type, err)
			}
			want[en.Factor.ID] = map[string]string{"totp": "totp pending, activation passcode",
				"smsotp":   "smsotp pending, activation passcode, to +1 ***-***-0001",
				"emailotp": "emailotp active at once (immediate), to a***@example.com",
				"push":     "push pending, activation device"}[in.Type]
		}
		_, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationPasscode,
			Params: raw(`{"phone":"+15550009999"}`)})
		if err == nil {
			t.Fatal("an enrollment whose activation code was not sent succeeded")
		}
		page := auditOf(t, m, "admin.factors.enroll")
		got, failed := map[string]string{}, 0
		for _, ev := range page.Events {
			switch ev.Outcome {
			case "SUCCESS":
				if _, dup := got[ev.FactorID]; dup {
					t.Errorf("factor %s has two records", ev.FactorID)
				}
				got[ev.FactorID] = ev.Reason
			case "FAILED":
				failed++
				if !strings.HasPrefix(ev.Reason, "activation_not_sent") {
					t.Errorf("refusal recorded as %q", ev.Reason)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || failed != 1 {
			t.Errorf("enrollment records %v and %d refusals, want %v and 1", got, failed, want)
		}
		if fs, _ := m.ListFactors(ctx, "alice"); len(fs) != len(want) {
			t.Errorf("%d factors, want the %d enrolled", len(fs), len(want))
		}
		// A resent code records itself with it.
		var sms string
		for id, why := range want {
			if strings.HasPrefix(why, "smsotp ") {
				sms = id
			}
		}
		if _, err := m.ResendActivation(ctx, "test", "alice", sms); err != nil {
			t.Fatalf("resend: %v", err)
		}
		page = auditOf(t, m, "admin.factors.resend")
		if len(page.Events) != 1 || page.Events[0].FactorID != sms || page.Events[0].Outcome != "SUCCESS" || page.Events[0].Actor != "test" {
			t.Errorf("resend records %+v, want one for %s", page.Events, sms)
		}
	})
}

func TestResetAndSweep(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		for _, in := range []lifecycle.Enrollment{
			{Type: "totp"}, // pending a passcode
			{Type: "smsotp", Activation: lifecycle.ActivationOnFirstUse, Params: raw(`{"phone":"+15550000001"}`)},
			{Type: "emailotp", Activation: lifecycle.ActivationImmediate, Params: raw(`{"email":"a@example.com"}`)},
			{Type: "push"}, // pending its device
		} {
			if _, err := m.EnrollFactor(ctx, "test", "alice", in); err != nil {
				t.Fatalf("%s: %v", in.Type, err)
			}
		}
		clk.Advance(lifecycle.DefaultActivationLifetime - time.Minute)
		if n, err := m.SweepPending(ctx); n != 0 || err != nil {
			t.Errorf("sweep before the lifetime: %d, %v", n, err)
		}
		clk.Advance(2 * time.Minute)
		if n, err := m.SweepPending(ctx); n != 2 || err != nil {
			t.Errorf("sweep after the lifetime: %d, %v (want the TOTP and push factors)", n, err)
		}
		page := auditOf(t, m, "admin.factors.expire")
		if len(page.Events) != 2 {
			t.Fatalf("sweep records %+v, want two", page.Events)
		}
		for _, ev := range page.Events {
			if ev.Actor != "sweeper" || ev.Outcome != "SUCCESS" || ev.FactorID == "" {
				t.Errorf("sweep record %+v", ev)
			}
		}
		fs, _ := m.ListFactors(ctx, "alice")
		if got := byType(fs); len(fs) != 2 || got["smsotp"].State != lifecycle.FactorPendingActivation || got["emailotp"].State != lifecycle.FactorActive {
			t.Errorf("after the sweep: %+v", fs)
		}
		// Disable: the active factor is disabled, the pending one (never proved) deleted.
		if n, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDisable); n != 2 || err != nil {
			t.Errorf("reset disable: %d %v", n, err)
		}
		if fs, _ := m.ListFactors(ctx, "alice"); len(fs) != 1 || fs[0].State != lifecycle.FactorDisabled {
			t.Errorf("after reset disable: %+v", fs)
		}
		if n, err := m.ResetUser(ctx, "test", "alice", ""); n != 1 || err != nil {
			t.Errorf("reset delete: %d %v", n, err)
		}
		if fs, _ := m.ListFactors(ctx, "alice"); len(fs) != 0 {
			t.Errorf("after reset: %+v", fs)
		}
	})
}

func raw(s string) map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		panic(err)
	}
	return m
}

func byType(fs []lifecycle.Factor) map[string]lifecycle.Factor {
	out := map[string]lifecycle.Factor{}
	for _, f := range fs {
		out[f.Type] = f
	}
	return out
}

// addAlice adds the user alice, by the actor test.
func addAlice(t *testing.T, m *lifecycle.Manager) {
	t.Helper()
	if _, err := m.CreateUser(context.Background(), "test", lifecycle.UserInput{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
}

// auditOf is the audit trail's page of action.
func auditOf(t *testing.T, m *lifecycle.Manager, action string) lifecycle.AuditPage {
	t.Helper()
	page, err := m.QueryAudit(context.Background(), lifecycle.AuditQuery{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return page
}

// An unlock clears the failures and records itself, in one commit.
func TestUnlockAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp", Activation: lifecycle.ActivationImmediate})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordFailure(ctx, en.Factor.ID, clk.Now(), 1, time.Hour); err != nil {
			t.Fatal(err)
		}
		f, err := m.UnlockFactor(ctx, "test", "alice", en.Factor.ID)
		if err != nil || f.Failures != 0 || f.LockedUntil != nil {
			t.Fatalf("unlock: %+v %v", f, err)
		}
		if _, err := m.UnlockFactor(ctx, "test", "alice", "nosuchfactor"); err == nil {
			t.Error("unlocking a missing factor succeeded")
		}
		page := auditOf(t, m, "admin.factors.unlock")
		if len(page.Events) != 1 || page.Events[0].FactorID != en.Factor.ID || page.Events[0].Actor != "test" || page.Events[0].User != "alice" {
			t.Errorf("unlock records %+v, want one for %s by test", page.Events, en.Factor.ID)
		}
	})
}

// A token's issue and its revocation are recorded, each in the commit that makes it.
func TestTokensAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		if _, err := m.CreateToken(ctx, "test", "ci", lifecycle.ScopeRead); err != nil {
			t.Fatal(err)
		}
		if _, err := m.CreateToken(ctx, "test", "ci", lifecycle.ScopeWrite); err == nil {
			t.Error("a second token named ci: no error")
		}
		if err := m.RevokeToken(ctx, "test", "ci"); err != nil {
			t.Fatal(err)
		}
		for action, reason := range map[string]string{"admin.tokens.create": "ci read", "admin.tokens.revoke": "ci"} {
			page := auditOf(t, m, action)
			if len(page.Events) != 1 || page.Events[0].Actor != "test" || page.Events[0].Outcome != "SUCCESS" || page.Events[0].Reason != reason {
				t.Errorf("%s records %+v, want one, reason %q", action, page.Events, reason)
			}
		}
	})
}

// An OAuth client is kept by its secret's hash, named as a token is, and its creation and
// revocation are recorded; each refusal says why and changes nothing.
func TestClientsAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		c, secret, err := m.CreateClient(ctx, "test", "verify")
		if err != nil {
			t.Fatal(err)
		}
		stored, err := st.(store.OAuthClients).GetOAuthClient(ctx, c.ID)
		if err != nil || stored.SecretHash != lifecycle.HashToken(secret) || len(secret) < 40 || !strings.HasPrefix(c.ID, "emfa-") {
			t.Fatalf("stored %+v (%v) for client %+v, secret of %d characters", stored, err, c, len(secret))
		}
		type refusal struct {
			err  error
			code string
		}
		var refusals []refusal
		for _, name := range []string{"", "a b", strings.Repeat("x", 65), "é"} {
			_, _, err := m.CreateClient(ctx, "test", name)
			refusals = append(refusals, refusal{err, "invalid_field"})
		}
		_, _, err = m.CreateClient(ctx, "test", "verify")
		refusals = append(refusals, refusal{err, "client_exists"})
		clk.Advance(time.Minute)
		if err := m.RevokeClient(ctx, "test", "verify"); err != nil {
			t.Fatal(err)
		}
		refusals = append(refusals, refusal{m.RevokeClient(ctx, "test", "verify"), "already_revoked"},
			refusal{m.RevokeClient(ctx, "test", "nobody"), "not_found"})
		for i, r := range refusals {
			var le *lifecycle.Error
			if !errors.As(r.err, &le) || le.Code != r.code {
				t.Errorf("refusal %d: %v, want %s", i, r.err, r.code)
			}
		}
		list, err := m.ListClients(ctx)
		if err != nil || len(list) != 1 || list[0].Revoked == nil || !list[0].Revoked.Equal(clk.Now()) || list[0].ID != c.ID {
			t.Errorf("clients %+v (%v), want verify revoked at %v", list, err, clk.Now())
		}
		for action, reason := range map[string]string{"admin.clients.create": "verify " + c.ID, "admin.clients.revoke": "verify"} {
			page := auditOf(t, m, action)
			if len(page.Events) != 1 || page.Events[0].Actor != "test" || page.Events[0].Outcome != "SUCCESS" || page.Events[0].Reason != reason {
				t.Errorf("%s records %+v, want one, reason %q", action, page.Events, reason)
			}
		}
	})
}

// An activation's check, the activation and its record are one commit: with the record
// refused, the code is not used up and the factor stays pending. A wrong code's record
// comes with the failure it counts.
func TestActivationAudited(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		sw := &testdb.RefusingAudits{Store: st}
		m, clk := newManager(t, sw)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		code := codeOf(t, en, clk.Now())
		id := en.Factor.ID
		wrong := code[:len(code)-1] + string('0'+(code[len(code)-1]-'0'+1)%10)
		if _, err := m.ActivateFactor(ctx, "test", "alice", id, wrong); err == nil {
			t.Fatal("a wrong code activated")
		}
		sw.Refuse.Store(true)
		if _, err := m.ActivateFactor(ctx, "test", "alice", id, code); err == nil || !errors.Is(err, testdb.ErrAuditRefused) {
			t.Fatalf("activation with its record refused: %v", err)
		}
		sw.Refuse.Store(false)
		if f, _ := m.GetFactor(ctx, "alice", id); f.State != lifecycle.FactorPendingActivation {
			t.Fatalf("after the refused record the factor is %s", f.State)
		}
		f, err := m.ActivateFactor(ctx, "test", "alice", id, code)
		if err != nil || f.State != lifecycle.FactorActive {
			t.Fatalf("the same code once recorded: %+v, %v", f, err)
		}
		page := auditOf(t, m, "admin.factors.activate")
		var got []string
		for i := len(page.Events) - 1; i >= 0; i-- {
			ev := page.Events[i]
			got = append(got, ev.Outcome+" "+ev.Reason)
			if ev.Actor != "test" || ev.FactorID != id || ev.User != "alice" {
				t.Errorf("activation record %+v", ev)
			}
		}
		if want := []string{"FAILED activation refused: wrong code", "SUCCESS "}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("activation records %q, want %q", got, want)
		}
	})
}

// A file that cannot be read as emfa's CSV says why, in words an identity team can act on.
func TestImportUnreadableHeader(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"semicolons (Excel where a comma is the decimal separator)", "\ufeffusername;email;phone\nalice;a@example.com;+15550000001\n",
			"separated by semicolons"},
		{"unknown column", "username,mail\nalice,a@example.com\n", `unknown column "mail"`},
		{"no username", "email\na@example.com\n", "no username column"},
		{"a column twice", "username,Username\nalice,alice\n", "twice"},
		{"empty", "", "no CSV header line"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := lifecycle.ParseImport(strings.NewReader(c.text), lifecycle.FormatCSV)
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != "invalid_file" || !strings.Contains(le.Msg, c.want) {
				t.Errorf("%v, want invalid_file saying %q", err, c.want)
			}
		})
	}
}

// failingBatches is a store whose second batch of user changes meets a fault (a full disk).
type failingBatches struct {
	store.Store
	calls int
}

func (s *failingBatches) ApplyUserChanges(ctx context.Context, changes []store.UserChange) []error {
	if s.calls++; s.calls < 2 {
		return s.Store.ApplyUserChanges(ctx, changes)
	}
	errs := make([]error, len(changes))
	for i := range errs {
		errs[i] = errors.New("sqlite: commit: disk I/O error")
	}
	return errs
}

// An import that meets a fault keeps the batches applied before it, says so, and the same
// file again applies the rest and changes nothing twice.
func TestImportFaultKeepsEarlierBatches(t *testing.T) {
	st := testdb.SQLite(t)
	var csv strings.Builder
	csv.WriteString("username\n")
	for i := range 700 {
		fmt.Fprintf(&csv, "user%04d\n", i)
	}
	rows, bad := parse(t, lifecycle.FormatCSV, csv.String())
	m, _ := newManager(t, &failingBatches{Store: st})
	_, err := m.Import(context.Background(), "cli", rows, bad, lifecycle.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "stopped after 500 of 700 changes (the same file again applies the rest)") {
		t.Fatalf("import on a failing store: %v", err)
	}
	m, _ = newManager(t, st)
	rep, err := m.Import(context.Background(), "cli", rows, bad, lifecycle.ImportOptions{})
	if err != nil || summary(rep) != "200 created, 0 updated, 500 unchanged, 0 deleted, 0 refused" {
		t.Errorf("the same file again: %s, %v", summary(rep), err)
	}
}

// A user name is matched regardless of ASCII letter case (store.FoldName): an import row or
// an admin call naming a user in another case reaches that user and keeps its name as
// created; two rows of one file differing only by case are one user twice.
func TestUserNamesIgnoreCase(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "Dana@Example.com"}); err != nil {
			t.Fatal(err)
		}
		var le *lifecycle.Error
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "dana@example.com"}); !errors.As(err, &le) || le.Kind != lifecycle.Conflict {
			t.Fatalf("a second user differing by case: %v", err)
		}
		display := "Dana"
		u, err := m.UpdateUser(ctx, "test", "DANA@example.com", lifecycle.UserInput{Name: "dana@EXAMPLE.com", DisplayName: &display})
		if err != nil || u.Name != "Dana@Example.com" || u.DisplayName != "Dana" {
			t.Fatalf("update by another case: %+v, %v", u, err)
		}

		rows, bad := parse(t, lifecycle.FormatCSV, "username,email,phone,displayName,groups,factors\n"+
			"dana@example.com,,,Dana S,,\n"+
			"DANA@EXAMPLE.COM,,,Dana T,,\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{Full: true, MaxDeletes: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(rep); got != "0 created, 1 updated, 0 unchanged, 0 deleted, 1 refused" {
			t.Fatalf("import: %s %+v", got, rep.Rows)
		}
		if e := rep.Rows[len(rep.Rows)-1].Error; e == nil || e.Code != "duplicate_row" {
			t.Errorf("second row: %+v", rep.Rows[len(rep.Rows)-1])
		}
		u, err = m.GetUser(ctx, "dana@example.com")
		if err != nil || u.Name != "Dana@Example.com" || u.DisplayName != "Dana S" {
			t.Errorf("after the import: %+v, %v", u, err)
		}
		audit, err := st.QueryAudit(ctx, store.AuditQuery{Username: "dana@example.com", Resource: "admin.import.update"})
		if err != nil || len(audit) != 1 || audit[0].Username != "Dana@Example.com" {
			t.Errorf("the import's audit row under the name as created: %+v, %v", audit, err)
		}

		// A listing: its prefix in any case, its order and pages by the folded name.
		for _, name := range []string{"Eve", "carol"} {
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: name}); err != nil {
				t.Fatal(err)
			}
		}
		page, err := m.ListUsers(ctx, lifecycle.UserQuery{Prefix: "dANA"})
		if err != nil || len(page.Users) != 1 || page.Users[0].Name != "Dana@Example.com" {
			t.Errorf("?prefix=dANA: %+v, %v", page, err)
		}
		var names []string
		for q := (lifecycle.UserQuery{Limit: 1}); ; {
			page, err := m.ListUsers(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range page.Users {
				names = append(names, u.Name)
			}
			if q.Cursor = page.Next; q.Cursor == "" || len(names) > 3 {
				break
			}
		}
		if want := []string{"carol", "Dana@Example.com", "Eve"}; !slices.Equal(names, want) {
			t.Errorf("pages of one: %q, want %q", names, want)
		}
	})
}

// A user created disabled is disabled from its first commit; an update may say the state,
// alone (the profile kept) or with profile fields, each recorded by its own action.
func TestUserState(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		state := func(s string) *string { return &s }
		actions := func(user string) []string {
			t.Helper()
			page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: user})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, ev := range page.Events {
				out = append(out, ev.Action+" "+ev.Outcome+" "+ev.Reason)
			}
			slices.Sort(out)
			return out
		}

		u, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "dee", Email: state("dee@example.com"), State: state(lifecycle.StateDisabled)})
		if err != nil || u.State != lifecycle.StateDisabled || u.Email != "dee@example.com" {
			t.Fatalf("created disabled: %+v, %v", u, err)
		}
		if got, want := actions("dee"), []string{"admin.users.create SUCCESS created disabled"}; !slices.Equal(got, want) {
			t.Errorf("audit %q, want %q", got, want)
		}

		_, err = m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "eve", State: state("suspended")})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Field != "state" {
			t.Fatalf("an unknown state: %v", err)
		}
		if _, err := m.GetUser(ctx, "eve"); err == nil {
			t.Error("eve was created with an unknown state")
		}
		if got := actions("eve"); len(got) != 1 || !strings.HasPrefix(got[0], "admin.users.create FAILED invalid_field: ") {
			t.Errorf("the refusal recorded %q", got)
		}

		// The state alone: the profile stays, and only the state change is recorded.
		u, err = m.UpdateUser(ctx, "test", "DEE", lifecycle.UserInput{State: state(lifecycle.StateActive)})
		if err != nil || u.State != lifecycle.StateActive || u.Email != "dee@example.com" {
			t.Fatalf("enabled by update: %+v, %v", u, err)
		}
		u, err = m.UpdateUser(ctx, "test", "dee", lifecycle.UserInput{Phone: state("+15550100123"), State: state(lifecycle.StateDisabled)})
		if err != nil || u.State != lifecycle.StateDisabled || u.Phone != "+15550100123" || u.Email != "dee@example.com" {
			t.Fatalf("phone and state: %+v, %v", u, err)
		}
		if _, err := m.UpdateUser(ctx, "test", "dee", lifecycle.UserInput{Phone: state("+15550100999"), State: state("off")}); !errors.As(err, &le) || le.Field != "state" {
			t.Fatalf("an unknown state in an update: %v", err)
		}
		if u, _ := m.GetUser(ctx, "dee"); u.Phone != "+15550100123" || u.State != lifecycle.StateDisabled {
			t.Errorf("a refused update changed %+v", u)
		}
		want := []string{"admin.users.create SUCCESS created disabled", "admin.users.disable SUCCESS ", "admin.users.enable SUCCESS ", "admin.users.update FAILED invalid_field: state: must be \"active\" or \"disabled\", not \"off\"", "admin.users.update SUCCESS phone: none → +1 ***-***-0123"}
		if got := actions("dee"); !slices.Equal(got, want) {
			t.Errorf("audit %q\nwant %q", got, want)
		}
	})
}

// An import's state column creates users disabled and changes the state of existing ones;
// an empty one keeps it, and a value other than active or disabled refuses the row.
func TestImportState(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		state := func(name string) string {
			t.Helper()
			u, err := m.GetUser(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			return u.State
		}
		rows, bad := parse(t, lifecycle.FormatCSV, "username,state\nann,DISABLED\nbo,active\ncy,\ndi,suspended\n")
		rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(rep); got != "3 created, 0 updated, 0 unchanged, 0 deleted, 1 refused" {
			t.Fatalf("import: %s %+v", got, rep.Rows)
		}
		if last := rep.Rows[len(rep.Rows)-1]; last.Username != "di" || last.Error == nil || last.Error.Field != "state" {
			t.Errorf("the row with an unknown state: %+v", last)
		}
		if got := []string{state("ann"), state("bo"), state("cy")}; !slices.Equal(got, []string{"disabled", "active", "active"}) {
			t.Errorf("states %q", got)
		}
		if page := auditOf(t, m, "admin.import.create"); len(page.Events) != 3 || !slices.ContainsFunc(page.Events, func(e lifecycle.AuditEvent) bool {
			return e.User == "ann" && e.Reason == "user, disabled"
		}) {
			t.Errorf("creations recorded %+v", page.Events)
		}

		rows, bad = parse(t, lifecycle.FormatJSONL, `{"username":"ann","state":"active"}
{"username":"bo","state":"disabled"}
{"username":"cy"}`)
		rep, err = m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := summary(rep); got != "0 created, 2 updated, 1 unchanged, 0 deleted, 0 refused" {
			t.Fatalf("second import: %s %+v", got, rep.Rows)
		}
		if got := rep.Rows[1].Changes; !slices.Equal(got, []string{"state: active → disabled"}) {
			t.Errorf("bo's changes %q", got)
		}
		if got := []string{state("ann"), state("bo"), state("cy")}; !slices.Equal(got, []string{"active", "disabled", "active"}) {
			t.Errorf("states after %q", got)
		}
	})
}

// TestEditsAtOnceKeepEveryChange: two replicas (two managers on one store) edit one user
// at once, each edit a read, a change and a write of the whole profile; none is lost.
func TestEditsAtOnceKeepEveryChange(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m1, _ := newManager(t, st)
		m2, _ := newManager(t, st)
		if _, err := m1.CreateUser(ctx, "test", lifecycle.UserInput{Name: "fay"}); err != nil {
			t.Fatal(err)
		}
		str := func(s string) *string { return &s }
		const goroutines, edits = 2, 5
		var wg sync.WaitGroup
		errc := make(chan error, 2*goroutines*edits+2)
		for r, m := range []*lifecycle.Manager{m1, m2} {
			for g := range goroutines {
				wg.Go(func() {
					for e := range edits {
						_, err := m.EditUser(ctx, "test", "fay", func(u lifecycle.User) *lifecycle.UserInput {
							groups := append(slices.Clone(u.Groups), fmt.Sprintf("g%d-%d-%d", r, g, e))
							return &lifecycle.UserInput{Groups: &groups}
						})
						errc <- err
					}
				})
			}
		}
		wg.Go(func() {
			_, err := m1.UpdateUser(ctx, "test", "fay", lifecycle.UserInput{Email: str("fay@example.com")})
			errc <- err
		})
		wg.Go(func() {
			_, err := m2.UpdateUser(ctx, "test", "FAY", lifecycle.UserInput{Phone: str("+15550100123")})
			errc <- err
		})
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Fatalf("an edit: %v", err)
			}
		}
		u, err := m1.GetUser(ctx, "fay")
		if err != nil || len(u.Groups) != 2*goroutines*edits || u.Email != "fay@example.com" || u.Phone != "+15550100123" {
			t.Fatalf("after the edits: %+v, %v; want %d groups, the e-mail and the phone", u, err, 2*goroutines*edits)
		}
		if want := int64(1 + 2*goroutines*edits + 2); u.Revision != want {
			t.Errorf("revision %d, want %d (the creation and each edit)", u.Revision, want)
		}
	})
}

// TestUpdateIfRevision: an update conditional on the revision read is refused, and
// audited, when another change came between; it changes nothing then.
func TestUpdateIfRevision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		str := func(s string) *string { return &s }
		read, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "gil", DisplayName: str("Gil")})
		if err != nil {
			t.Fatal(err)
		}
		u, err := m.UpdateUser(ctx, "test", "gil", lifecycle.UserInput{DisplayName: str("Gil A"), IfRevision: &read.Revision})
		if err != nil || u.DisplayName != "Gil A" || u.Revision != read.Revision+1 {
			t.Fatalf("on the revision read: %+v, %v", u, err)
		}
		_, err = m.UpdateUser(ctx, "test", "gil", lifecycle.UserInput{DisplayName: str("Gil B"), State: str(lifecycle.StateDisabled), IfRevision: &read.Revision})
		var le *lifecycle.Error
		if !errors.As(err, &le) || le.Kind != lifecycle.Conflict || le.Code != lifecycle.CodeChanged {
			t.Fatalf("on a stale revision: %v, want the conflict %s", err, lifecycle.CodeChanged)
		}
		if u, _ := m.GetUser(ctx, "gil"); u.DisplayName != "Gil A" || u.State != lifecycle.StateActive {
			t.Errorf("the refused update changed %+v", u)
		}
		page, err := m.QueryAudit(ctx, lifecycle.AuditQuery{User: "gil"})
		if err != nil {
			t.Fatal(err)
		}
		var refused []string
		for _, ev := range page.Events {
			if ev.Outcome == "FAILED" {
				refused = append(refused, ev.Action+" "+ev.Reason)
			}
		}
		if len(refused) != 1 || !strings.HasPrefix(refused[0], "admin.users.update "+lifecycle.CodeChanged+": ") {
			t.Errorf("refusals recorded: %q", refused)
		}
	})
}

// TestResetBeforeKeepsWhatCameAfter: a directory's MFA reset delivered late, after the
// user enrolled again, takes only the factors enrolled before it happened.
func TestResetBeforeKeepsWhatCameAfter(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}
		enroll := func(typ, params string) {
			t.Helper()
			if _, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: typ, Activation: lifecycle.ActivationImmediate, Params: raw(params)}); err != nil {
				t.Fatal(err)
			}
		}
		enroll("emailotp", `{"email":"a@example.com"}`)
		clk.Advance(time.Minute)
		resetAt := clk.Now()
		clk.Advance(time.Minute)
		enroll("smsotp", `{"phone":"+15550000001"}`) // enrolled again after the reset
		clk.Advance(time.Hour)                       // the reset arrives late
		if n, err := m.ResetUserBefore(ctx, "sync:okta", "alice", lifecycle.ResetDelete, resetAt); n != 1 || err != nil {
			t.Fatalf("reset: %d %v", n, err)
		}
		fs, _ := m.ListFactors(ctx, "alice")
		if len(fs) != 1 || fs[0].Type != "smsotp" {
			t.Errorf("after a late reset: %+v, want the factor enrolled since", fs)
		}
		page := auditOf(t, m, "admin.users.reset")
		if len(page.Events) != 1 || !strings.Contains(page.Events[0].Reason, "delete 1 factor(s); 1 enrolled after the reset") {
			t.Errorf("reset record %+v", page.Events)
		}
	})
}

// TestPendingFactorNeverEnabled: a factor that never completed its activation becomes
// active only by it: a reset in disable mode deletes it rather than leave it disabled, and
// an enable of one disabled while pending (by an earlier version's reset) is refused.
func TestPendingFactorNeverEnabled(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		id := en.Factor.ID
		if _, err := m.SetFactorState(ctx, "test", "alice", id, false); err == nil {
			t.Fatal("enable of a pending factor accepted")
		}
		if _, err := m.ResetUser(ctx, "test", "alice", lifecycle.ResetDisable); err != nil {
			t.Fatal(err)
		}
		if _, err := m.GetFactor(ctx, "alice", id); err == nil {
			t.Error("a pending factor survived a reset in disable mode")
		}
		// One disabled while pending, as an earlier version's reset left it.
		en, err = m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Now: time.Now(),
			StateChanges: []store.FactorStateChange{{ID: en.Factor.ID, State: store.FactorDisabled}}}})[0]; err != nil {
			t.Fatal(err)
		}
		if f, err := m.SetFactorState(ctx, "test", "alice", en.Factor.ID, false); err == nil {
			t.Fatalf("a factor that never passed its activation was enabled: %s", f.State)
		}
	})
}

// A push factor becomes active only when its device registers: "immediate" (or any
// other activation) is refused, not taken and ignored; "device", its own, is taken.
func TestPushActivationIsItsDevice(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		for _, mode := range []string{lifecycle.ActivationImmediate, lifecycle.ActivationPasscode, "later"} {
			_, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "push", Activation: mode})
			var le *lifecycle.Error
			if !errors.As(err, &le) || le.Code != "invalid_activation" || !strings.Contains(le.Msg, "when their device registers") {
				t.Errorf("push with activation %q: %v, want invalid_activation saying the device activates it", mode, err)
			}
		}
		if fs, _ := m.ListFactors(ctx, "alice"); len(fs) != 0 {
			t.Errorf("refused enrollments left %d factors", len(fs))
		}
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "push", Activation: lifecycle.ActivationDevice})
		if err != nil || en.Factor.State != lifecycle.FactorPendingActivation || en.Factor.Activation != lifecycle.ActivationDevice {
			t.Errorf("push with activation device: %+v, %v", en.Factor, err)
		}
	})
}

// A write that changes nothing (an empty update, a field set to what it is, a state the
// user is in) writes nothing: its revision (the API's ETag) and its updated time stay, so
// another client's If-Match is not refused for a change that never was; and a stale
// revision is still refused.
func TestNoOpWritesKeepTheRevision(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, clk := newManager(t, st)
		str := func(s string) *string { return &s }
		read, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "hal", DisplayName: str("Hal"), Email: str("hal@example.com")})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		for name, write := range map[string]func() (lifecycle.User, error){
			"empty update": func() (lifecycle.User, error) { return m.UpdateUser(ctx, "test", "hal", lifecycle.UserInput{}) },
			"same name": func() (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", "hal", lifecycle.UserInput{DisplayName: str("Hal")})
			},
			"same e-mail, other case": func() (lifecycle.User, error) {
				return m.UpdateUser(ctx, "test", "HAL", lifecycle.UserInput{Email: str("hal@EXAMPLE.com"), State: str(lifecycle.StateActive)})
			},
			"enable an active user": func() (lifecycle.User, error) { return m.SetUserState(ctx, "test", "hal", false) },
			"enable on its revision": func() (lifecycle.User, error) {
				return m.SetUserStateAt(ctx, "test", "hal", false, "", read.Revision)
			},
		} {
			u, err := write()
			if err != nil || u.Revision != read.Revision || fmt.Sprint(u.Updated) != fmt.Sprint(read.Updated) {
				t.Errorf("%s: revision %d updated %v, %v; want revision %d updated %v", name, u.Revision, u.Updated, err, read.Revision, read.Updated)
			}
		}
		// A change is still a change, and a stale revision still refused.
		u, err := m.SetUserState(ctx, "test", "hal", true)
		if err != nil || u.Revision != read.Revision+1 {
			t.Fatalf("disable: revision %d, %v", u.Revision, err)
		}
		if _, err := m.SetUserStateAt(ctx, "test", "hal", true, "", read.Revision); err == nil {
			t.Error("a disable on a stale revision of a disabled user was taken")
		}
		if d, err := m.SetUserState(ctx, "test", "hal", true); err != nil || d.Revision != u.Revision {
			t.Errorf("disable a disabled user: revision %d, %v; want %d", d.Revision, err, u.Revision)
		}
	})
}

// A factor of a type no builtin provider exposes may be pre-provisioned, but its answer
// says that Verify will not be offered it: an automation is not left to find out at
// sign-in. One of an exposed type has no warning.
func TestEnrollmentWarnsOfATypeNotExposed(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st) // exposes totp, smsotp, emailotp and push
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "hotp"})
		if err != nil || len(en.Warnings) != 1 || !strings.Contains(en.Warnings[0], "no builtin provider exposes hotp") {
			t.Errorf("hotp: warnings %q, %v; want one saying no provider exposes hotp", en.Warnings, err)
		}
		if en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "totp"}); err != nil || en.Warnings != nil {
			t.Errorf("totp: warnings %q, %v; want none", en.Warnings, err)
		}
	})
}
