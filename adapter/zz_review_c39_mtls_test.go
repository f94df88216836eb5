package adapter

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http/httptest"
	"testing"
)

// TestReviewC39MTLSSubjectPinSpacing: a pinned subject is matched as a name, not as a
// string: spaces around its separators and the case of its attribute types, as openssl
// and most documents write a subject ("CN = verify, O = Example", "cn=verify"), do not
// keep the certificate with that subject out. Before, such a pin was compared to Go's
// RFC 2253 string byte for byte, never matched, and every call of Verify was refused.
// A different value is still refused, and a space that is part of a value (escaped)
// still counts.
func TestReviewC39MTLSSubjectPinSpacing(t *testing.T) {
	check := func(pin string, subject pkix.Name) bool {
		a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{pin}})
		r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
		r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{{Subject: subject}}}}
		ok, _, _ := a.check(r)
		return ok
	}
	verify := pkix.Name{CommonName: "verify", Organization: []string{"Example"}, OrganizationalUnit: []string{"IAM"}}
	trailing := pkix.Name{CommonName: "verify ", Organization: []string{"Example"}}
	for _, tc := range []struct {
		pin     string
		subject pkix.Name
		want    bool
	}{
		{"CN=verify,OU=IAM,O=Example", verify, true},
		{"CN=verify, OU=IAM, O=Example", verify, true},
		{"CN = verify , OU = IAM , O = Example", verify, true},
		{"cn=verify,ou=IAM,o=Example", verify, true},
		{" CN=verify,OU=IAM,O=Example ", verify, true},
		{"CN=verify, OU=IAM, O=Other", verify, false},
		{"CN=verify, OU=iam, O=Example", verify, false}, // values keep their case
		{"CN=verify, O=Example", verify, false},
		{`CN=verify\ ,O=Example`, trailing, true},
		{`CN=verify\ , O=Example`, trailing, true},
		{`CN=verify,O=Example`, trailing, false},
		{"CN=verify ,O=Example", trailing, false},
	} {
		if got := check(tc.pin, tc.subject); got != tc.want {
			t.Errorf("pin %q, subject %q: admitted %v, want %v", tc.pin, tc.subject.String(), got, tc.want)
		}
	}
}
