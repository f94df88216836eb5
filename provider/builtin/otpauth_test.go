package builtin_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/store"
)

// The otpauth URIs of TOTP and HOTP carry the issuer and account name as written, read
// back the way authenticator apps read them (Key Uri Format): the issuer parameter
// equal to the label's prefix, no '+' (which apps read as a space, in the query and in
// some apps in the label too), spaces as %20, and an '&' in the issuer escaped so that it
// does not cut the parameter short.
func TestOtpauthURIEscaping(t *testing.T) {
	for _, issuer := range []string{"AT&T Corp", "C++ Team", "Ünïcode Co", "a=b;c"} {
		st := testdb.SQLite(t)
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("totp", map[string]any{"issuer": issuer})
		})
		account := "jo smith+mfa@example.com"
		if err := st.CreateUser(context.Background(), store.User{ID: "u-jo", Name: account, CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		for _, typ := range []string{"totp", "hotp"} {
			raw := f.enroll(t, typ, account).Output["otpauthURI"].(string)
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%s %q: %v", typ, raw, err)
			}
			label, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/"))
			if err != nil {
				t.Fatalf("%s %q: %v", typ, raw, err)
			}
			gotIssuer, gotAccount, _ := strings.Cut(label, ":")
			if q := u.Query(); q.Get("issuer") != issuer || gotIssuer != issuer || gotAccount != account || strings.Contains(raw, "+") {
				t.Errorf("%s %q: issuer parameter %q, label %q : %q; want %q : %q and no '+'", typ, raw, q.Get("issuer"), gotIssuer, gotAccount, issuer, account)
			}
		}
	}
}

// An issuer with a colon cannot be told apart from the account in the otpauth label
// (the Key Uri Format: "neither issuer nor account name may themselves contain a colon",
// literal or encoded): apps would show "ACME" as the issuer and "Prod:alice" as the
// account. The configuration refuses it rather than every enrollment carrying it.
func TestIssuerWithColonRefused(t *testing.T) {
	_, err := check(t, `
providers:
  - name: A
    credentialPrefix: a
    capabilities: [totp]
    builtin:
      totp: {issuer: "ACME: Prod"}
`)
	if err == nil || !strings.Contains(err.Error(), "issuer") || !strings.Contains(err.Error(), "colon") {
		t.Errorf("issuer with a colon: %v", err)
	}
}
