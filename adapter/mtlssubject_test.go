package adapter

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"testing"
)

// TestMTLSSubjectPinIsNotACommonName: a pin written as a whole subject
// ("CN=verify,O=Example") admits the certificate with that subject, and not one whose
// common name merely spells it: a CA that lets its holders choose their CN (an internal
// PKI) would otherwise let anyone it certifies match a pin meant for one subject. A pin
// without "=" is a common name, as before.
func TestMTLSSubjectPinIsNotACommonName(t *testing.T) {
	check := func(pins []string, subject pkix.Name) bool {
		a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: pins})
		r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
		r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: subject}}}}
		ok, _, _ := a.check(r)
		return ok
	}
	verify := pkix.Name{CommonName: "verify", Organization: []string{"Example"}}
	impostor := pkix.Name{CommonName: "CN=verify,O=Example", Organization: []string{"Mallory"}}
	for _, tc := range []struct {
		name    string
		pins    []string
		subject pkix.Name
		want    bool
	}{
		{"whole subject pinned, that subject", []string{"CN=verify,O=Example"}, verify, true},
		{"whole subject pinned, a CN spelling it", []string{"CN=verify,O=Example"}, impostor, false},
		{"common name pinned", []string{"verify"}, verify, true},
		{"common name pinned, another", []string{"verify"}, pkix.Name{CommonName: "other"}, false},
	} {
		if got := check(tc.pins, tc.subject); got != tc.want {
			t.Errorf("%s (%s): admitted %v, want %v", tc.name, tc.subject, got, tc.want)
		}
	}
}
