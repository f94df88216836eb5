package lifecycle_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

// smsManager is a manager over st whose engine enrolls smsotp (codes sent nowhere), with
// country as its DefaultCountry.
func smsManager(t *testing.T, st store.Store, country string) *lifecycle.Manager {
	t.Helper()
	keys, err := builtin.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	e, err := builtin.New(builtin.Options{Store: st, Keyring: keys, Capabilities: []string{"smsotp"},
		Config:  map[string]any{"smsotp": map[string]any{"sender": "null"}},
		Senders: func(string) (delivery.Sender, error) { return nullSender{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e}, DefaultCountry: country})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDefaultCountry: with Options.DefaultCountry, a national phone number in a profile,
// an import row or an enrollment is stored in E.164; the same number written another way
// changes nothing; one that is no number of the country is refused; and without the
// option a national number is refused with a message that names it.
func TestDefaultCountry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if _, err := lifecycle.New(lifecycle.Options{Store: st, DefaultCountry: "UK"}); err == nil || !strings.Contains(err.Error(), `"GB"`) {
			t.Errorf("DefaultCountry UK: %v", err)
		}
		m := smsManager(t, st, "gb")
		s := func(v string) *string { return &v }

		u, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "alice", Phone: s("020 7946 0958")})
		if err != nil || u.Phone != "+442079460958" {
			t.Fatalf("create: %+v %v", u, err)
		}
		if !m.Holds(u, lifecycle.UserInput{Phone: s("+44 (0)20 7946 0958")}) || m.Holds(u, lifecycle.UserInput{Phone: s("020 7946 0959")}) {
			t.Error("Holds does not compare the numbers as stored")
		}
		again, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("0044 20 7946 0958")})
		if err != nil || again.Revision != u.Revision {
			t.Errorf("the same number written another way: revision %d → %d, %v", u.Revision, again.Revision, err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("7946 0958")}); err == nil ||
			!strings.Contains(err.Error(), "is not a phone number of GB") {
			t.Errorf("a local number: %v", err)
		}

		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone,factors\nbob,07700 900123,smsotp\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 {
			t.Fatalf("import: %+v %v", rep, err)
		}
		if b, err := m.GetUser(ctx, "bob"); err != nil || b.Phone != "+447700900123" {
			t.Errorf("imported: %+v %v", b, err)
		}

		enrolled, err := m.EnrollFactor(ctx, "idm", "alice", lifecycle.Enrollment{Type: "smsotp", Params: raw(`{"phone":"07700 900124"}`)})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := st.ListFactors(ctx, u.ID)
		if err != nil || len(fs) != 1 || fs[0].ID != enrolled.Factor.ID || fs[0].Params["phone"] != "+447700900124" {
			t.Errorf("enrolled: %+v %v", fs, err)
		}

		// A reload's change: a code refused changes nothing; "" reads no national number.
		if err := m.SetDefaultCountry("BRA"); err == nil {
			t.Error("SetDefaultCountry(BRA) took no ISO 3166-1 alpha-2 code")
		}
		if _, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("020 7946 0957")}); err != nil {
			t.Errorf("GB's number after a refused change: %v", err)
		}
		// A country whose mobiles are dialled with a token that changes the number:
		// Argentina's 0, area code, 15 is +54 9 and the area code.
		if err := m.SetDefaultCountry("AR"); err != nil {
			t.Fatal(err)
		}
		if u, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("011 15-2345-6789")}); err != nil || u.Phone != "+5491123456789" {
			t.Errorf("Argentina's mobile: %+v %v", u, err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("15 2345 6789")}); err == nil ||
			!strings.Contains(err.Error(), "is not a phone number of AR") {
			t.Errorf("Argentina's mobile without its area code: %v", err)
		}
		if err := m.SetDefaultCountry(""); err != nil {
			t.Fatal(err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "alice", lifecycle.UserInput{Phone: s("020 7946 0956")}); err == nil {
			t.Error("a national number read with the default country set back to none")
		}

		strict, err := lifecycle.New(lifecycle.Options{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strict.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "carol", Phone: s("020 7946 0958")}); err == nil ||
			!strings.Contains(err.Error(), "does not say its country") || !strings.Contains(err.Error(), "lifecycle.defaultCountry") {
			t.Errorf("no default country: %v", err)
		}
		if c, err := strict.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "carol", Phone: s("+1 (555) 010-0199")}); err != nil || c.Phone != "+15550100199" {
			t.Errorf("an international number, formatted: %+v %v", c, err)
		}
		// An international number must be one of its country's: the refusal says why, and
		// changes nothing. The trunk prefix after the country code is dropped.
		for phone, says := range map[string]string{
			"+1 555 010 019": "is not a phone number of +1: no number there has 9 digits after the country code",
			"+28 1234 5678":  "has no country's calling code after the + or 00",
			// A directory's desk phone (RFC 3966): the extension is what to drop.
			"tel:+1-555-010-0199;ext=1234": "has an extension (;ext=): an SMS or a voice call dials the number, never an extension",
		} {
			if _, err := strict.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s(phone)}); err == nil || !strings.Contains(err.Error(), says) {
				t.Errorf("%s: %v, want it to say %q", phone, err, says)
			}
		}
		if c, err := strict.GetUser(ctx, "carol"); err != nil || c.Phone != "+15550100199" {
			t.Errorf("after the refusals: %+v %v", c, err)
		}
		if c, err := strict.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s("+44 020 7946 0958")}); err != nil || c.Phone != "+442079460958" {
			t.Errorf("the trunk prefix after the country code: %+v %v", c, err)
		}

		// A number stored before these checks (a digit short), given again with a change
		// that must not be held up by it (a directory deactivating the user), is kept.
		if errs := st.ApplyUserChanges(ctx, []store.UserChange{{Name: "carol",
			Profile: &store.Profile{Phone: "+1555010019"}, Now: time.Now()}}); errs[0] != nil {
			t.Fatal(errs[0])
		}
		off := string(lifecycle.StateDisabled)
		if c, err := strict.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s("+1 555 010 019"), State: &off}); err != nil ||
			c.Phone != "+1555010019" || c.State != off {
			t.Errorf("the stored number given again: %+v %v", c, err)
		}
		if _, err := strict.UpdateUser(ctx, "idm", "carol", lifecycle.UserInput{Phone: s("+1 555 010 018")}); err == nil {
			t.Error("another number a digit short was taken")
		}
	})
}

// TestUserCountry: a user's own country (UserInput.Country) reads the user's national
// phone numbers, before the deployment's default: in the profile (given with it, or
// later), an import row, an enrollment and a directory's event as propagated; a code that
// is not a country's is refused and changes nothing; and a refusal names whose country
// it read the number as.
func TestUserCountry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m := smsManager(t, st, "GB")
		s := func(v string) *string { return &v }

		// Given with the number: the country first, whatever the fields' order.
		u, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "dora", Phone: s("030 901820"), Country: s("de")})
		if err != nil || u.Phone != "+4930901820" || u.Country != "DE" {
			t.Fatalf("create with a country: %+v %v", u, err)
		}
		// Later numbers of the user's are read as the country's too; a number of another
		// country is refused, and the refusal says it was read as the user's country's.
		if u, err = m.UpdateUser(ctx, "idm", "dora", lifecycle.UserInput{Phone: s("0151 23456789")}); err != nil || u.Phone != "+4915123456789" {
			t.Errorf("a later national number: %+v %v", u, err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "dora", lifecycle.UserInput{Phone: s("0151 2")}); err == nil ||
			!strings.Contains(err.Error(), "is not a phone number of DE (the user's country)") {
			t.Errorf("a number that is not the user's country's: %v", err)
		}
		// A user without a country of their own: the deployment's.
		if b, err := m.CreateUser(ctx, "idm", lifecycle.UserInput{Name: "ben", Phone: s("020 7946 0958")}); err != nil || b.Phone != "+442079460958" || b.Country != "" {
			t.Errorf("without a country: %+v %v", b, err)
		}
		if _, err := m.UpdateUser(ctx, "idm", "ben", lifecycle.UserInput{Phone: s("7946 0958")}); err == nil ||
			!strings.Contains(err.Error(), "(lifecycle.defaultCountry)") {
			t.Errorf("a number that is not the default country's: %v", err)
		}

		// Not a country's code: refused, nothing changed; "" clears it.
		// The admin API and imports take the code alone, and say which one a name means.
		for bad, why := range map[string]string{
			"UK":      `"UK" is not an ISO 3166-1 alpha-2 code: that country's is "GB"`,
			"Germany": `"Germany" is not an ISO 3166-1 alpha-2 code: that country's is "DE"`,
			"DEU":     `"DEU" is not an ISO 3166-1 alpha-2 code: that country's is "DE"`,
			"D":       `"D" is not a region's ISO 3166-1 alpha-2 code`,
		} {
			if _, err := m.UpdateUser(ctx, "idm", "dora", lifecycle.UserInput{Country: s(bad), Phone: s("020 7946 0958")}); err == nil ||
				!strings.Contains(err.Error(), "invalid_country") || !strings.Contains(err.Error(), why) {
				t.Errorf("country %q: %v; want invalid_country: %s", bad, err, why)
			}
		}
		if d, err := m.GetUser(ctx, "dora"); err != nil || d.Country != "DE" || d.Phone != "+4915123456789" {
			t.Errorf("after the refusals: %+v %v", d, err)
		}
		if !m.Holds(u, lifecycle.UserInput{Country: s("de")}) || m.Holds(u, lifecycle.UserInput{Country: s("FR")}) {
			t.Error("Holds does not compare the country as stored")
		}

		// An enrollment's national number is the user's country's.
		enrolled, err := m.EnrollFactor(ctx, "idm", "dora", lifecycle.Enrollment{Type: "smsotp", Params: raw(`{"phone":"0151 23456780"}`)})
		if err != nil {
			t.Fatal(err)
		}
		fs, err := st.ListFactors(ctx, u.ID)
		if err != nil || len(fs) != 1 || fs[0].ID != enrolled.Factor.ID || fs[0].Params["phone"] != "+4915123456780" {
			t.Errorf("enrolled: %+v %v", fs, err)
		}

		// An import row's country column; a row without the column keeps the country.
		rows, bad := parse(t, lifecycle.FormatCSV, "username,phone,country\neva,06 12 34 56 78,FR\ndora,030 901821,\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Created != 1 || rep.Refused != 1 ||
			!strings.Contains(rep.Rows[1].Error.Error(), "is not a phone number of GB (lifecycle.defaultCountry)") {
			t.Fatalf("import: %+v %v", rep, err)
		}
		if v, err := m.GetUser(ctx, "eva"); err != nil || v.Phone != "+33612345678" || v.Country != "FR" {
			t.Errorf("imported with a country: %+v %v", v, err)
		}
		// dora's row clears her country (the column is there, empty), so its number is
		// read as the deployment's, and 030 901821 is no GB number: the row is refused,
		// and changes nothing.
		if d, err := m.GetUser(ctx, "dora"); err != nil || d.Country != "DE" {
			t.Errorf("after a refused row: %+v %v", d, err)
		}
		rows, bad = parse(t, lifecycle.FormatCSV, "username,phone\ndora,030 901821\n")
		if rep, err := m.Import(ctx, "test", rows, bad, lifecycle.ImportOptions{}); err != nil || rep.Updated != 1 {
			t.Fatalf("import without the column: %+v %v", rep, err)
		}
		if d, err := m.GetUser(ctx, "dora"); err != nil || d.Country != "DE" || d.Phone != "+4930901821" {
			t.Errorf("imported without the column: %+v %v", d, err)
		}

		// A directory's event propagated as applied: its country, else the user's.
		if _, tel := m.AsStored(ctx, "dora", nil, s("030 901822"), nil); *tel != "+4930901822" {
			t.Errorf("as stored, the user's country: %s", *tel)
		}
		if _, tel := m.AsStored(ctx, "dora", nil, s("06 12 34 56 79"), s("fr")); *tel != "+33612345679" {
			t.Errorf("as stored, the event's country: %s", *tel)
		}
		if _, tel := m.AsStored(ctx, "nobody", nil, s("020 7946 0959"), nil); *tel != "+442079460959" {
			t.Errorf("as stored, no such user: %s", *tel)
		}
	})
}
