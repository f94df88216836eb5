package lifecycle_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/store"
)

// An update's record says which fields it changed, a code's destination masked as the
// factors' listing masks it, and never a full address.
func TestUpdateAuditSaysWhatChanged(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		s := func(v string) *string { return &v }
		groups := []string{"staff"}
		attrs := map[string]string{"team": "blue"}
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "carol", Email: s("carol@example.com"),
			Groups: &groups, Attributes: &attrs}); err != nil {
			t.Fatal(err)
		}
		newGroups := []string{"admins"}
		newAttrs := map[string]string{"team": "red", "site": "x"}
		if _, err := m.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Email: s("mallory@example.net"), Phone: s("+15550100199"),
			Groups: &newGroups, DisplayName: s("Carol"), Attributes: &newAttrs}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Email: s("")}); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range auditOf(t, m, "admin.users.update").Events {
			got = append([]string{ev.Reason}, got...) // oldest first
			for _, full := range []string{"carol@example.com", "mallory@example.net", "+15550100199", "blue", "red"} {
				if strings.Contains(ev.Reason, full) {
					t.Errorf("the record %q holds %q", ev.Reason, full)
				}
			}
		}
		want := []string{
			"email: c***@example.com → m***@example.net; phone: none → +1 ***-***-0199; displayName; groups: +admins -staff; attributes: site, team",
			"email: m***@example.net → none",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("users.update records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// A code factor's enrollment record names its masked destination and how it becomes
// active: one pre-provisioned for first use is offered to Verify at once.
func TestEnrollAuditSaysWhereAndWhen(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		en, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "smsotp", Activation: lifecycle.ActivationOnFirstUse,
			Params: raw(`{"phone":"+15550100123"}`)})
		if err != nil {
			t.Fatal(err)
		}
		var reason string
		for _, ev := range auditOf(t, m, "admin.factors.enroll").Events {
			if ev.FactorID == en.Factor.ID {
				reason = ev.Reason
			}
		}
		if want := "smsotp pending, activation onFirstUse (offered to Verify at once), to +1 ***-***-0123"; reason != want {
			t.Errorf("the enrollment's record %q, want %q", reason, want)
		}
	})
}

// An import's record of a changed destination masks it as an update's does; the report,
// the importer's own answer, keeps the addresses it was given.
func TestImportAuditMasksDestinations(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		for _, file := range []string{
			"username,email,phone\ncarol,carol@example.com,+15550000003\n",
			"username,email,phone\ncarol,mallory@example.net,+15550000099\n",
		} {
			rows, bad := parse(t, lifecycle.FormatCSV, file)
			if _, err := m.Import(ctx, "import", rows, bad, lifecycle.ImportOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		page := auditOf(t, m, "admin.import.update")
		if len(page.Events) != 1 {
			t.Fatalf("%d import.update records, want 1: %+v", len(page.Events), page.Events)
		}
		want := `email: "c***@example.com" → "m***@example.net"; phone: "+1 ***-***-0003" → "+1 ***-***-0099"`
		if got := page.Events[0].Reason; got != want {
			t.Errorf("the import's record %q, want %q", got, want)
		}
	})
}

// A refusal quotes the value the caller sent back to the caller (Msg), but its record
// and its Error, which logs and a sync queue's rows show, mask it.
func TestRefusalRecordsMaskWhatTheCallerSent(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m, _ := newManager(t, st)
		addAlice(t, m)
		if _, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "emailotp", Activation: lifecycle.ActivationImmediate,
			Params: raw(`{"email":"alice@example.com"}`)}); err != nil {
			t.Fatal(err)
		}
		s := func(v string) *string { return &v }
		tests := []struct {
			name, action, sent, code, reason string
			do                               func() error
		}{
			{"an e-mail address", "admin.users.update", "Alice <alice.w@example.com>", "invalid_email",
				`invalid_email: email: "A***@example.com>" is not one bare e-mail address`,
				func() error {
					_, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Email: s("Alice <alice.w@example.com>")})
					return err
				}},
			{"a phone number", "admin.users.create", "+1555010019x", "invalid_phone",
				`invalid_phone: phone: "***" is not an E.164 number (+ and 7 to 15 digits, e.g. +15551230123)`,
				func() error {
					_, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "bob", Phone: s("+1555010019x")})
					return err
				}},
			// A value shorter than any number is masked where it is quoted, and nowhere
			// else: not inside "E.164" or the example number.
			{"a digit", "admin.users.create", "1", "invalid_phone",
				`invalid_phone: phone: "***" is not an E.164 number (+ and 7 to 15 digits, e.g. +15551230123)`,
				func() error {
					_, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "bob", Phone: s("1")})
					return err
				}},
			{"an enrollment's phone", "admin.factors.enroll", "07911 123456", "invalid_phone",
				`invalid_phone: params.phone: "***" does not say its country: write it with + and the country code (+44 20 7946 0958), or give the user's country (country), or set lifecycle.defaultCountry to the country whose national numbers these are`,
				func() error {
					_, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "smsotp", Params: raw(`{"phone":"07911 123456"}`)})
					return err
				}},
			{"an enrollment's duplicate mailbox", "admin.factors.enroll", "alice@EXAMPLE.com", "factor_exists",
				"factor_exists: the user already has this factor: alice already has emailotp factor",
				func() error {
					_, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "emailotp", Params: raw(`{"email":"alice@EXAMPLE.com"}`)})
					return err
				}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.do()
				var le *lifecycle.Error
				if !errors.As(err, &le) || le.Code != tt.code {
					t.Fatalf("error %v, want a %s refusal", err, tt.code)
				}
				if tt.code != "factor_exists" && !strings.Contains(le.Msg, tt.sent) {
					t.Errorf("the caller's message %q does not quote %q", le.Msg, tt.sent)
				}
				// What was sent, quoted; or alone, where it is long enough to be a person's.
				quotes := func(logged string) bool {
					l := strings.ToLower(logged)
					return strings.Contains(l, "alice@example.com") || strings.Contains(l, strings.ToLower(strconv.Quote(tt.sent))) ||
						len(tt.sent) >= 6 && strings.Contains(l, strings.ToLower(tt.sent))
				}
				for _, logged := range []string{le.Error(), le.Reason()} {
					if quotes(logged) {
						t.Errorf("%q quotes what was sent", logged)
					}
				}
				evs := auditOf(t, m, tt.action).Events
				if len(evs) == 0 || evs[0].Outcome != "FAILED" || !strings.HasPrefix(evs[0].Reason, tt.reason) {
					t.Fatalf("newest %s record %+v, want FAILED %q", tt.action, evs, tt.reason)
				}
				if quotes(evs[0].Reason) {
					t.Errorf("the record %q quotes what was sent", evs[0].Reason)
				}
			})
		}
	})
}
