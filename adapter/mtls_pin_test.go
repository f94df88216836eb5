package adapter

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http/httptest"
	"testing"
)

// TestMTLSSubjectPinSpacing: a pinned subject is matched as a name, not as a
// string: spaces around its separators and the case of its attribute types, as openssl
// and most documents write a subject ("CN = verify, O = Example", "cn=verify"), do not
// keep the certificate with that subject out. Before, such a pin was compared to Go's
// RFC 2253 string byte for byte, never matched, and every call of Verify was refused.
// A different value is still refused, and a space that is part of a value (escaped)
// still counts.
func TestMTLSSubjectPinSpacing(t *testing.T) {
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

// adSubject is a certificate whose subject is an Active Directory one, domain components
// first: "CN=verify,OU=Service,DC=corp,DC=example" in RFC 4514's order.
func adSubject(t *testing.T, cn string) *x509.Certificate {
	t.Helper()
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	rdns := pkix.RDNSequence{
		{{Type: dc, Value: "example"}},
		{{Type: dc, Value: "corp"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Service"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: cn}},
	}
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	c := &x509.Certificate{RawSubject: raw}
	c.Subject.FillFromRDNSequence(&rdns)
	return c
}

// TestMTLSSubjectPinDomainComponents: a subject with attributes crypto/x509 has
// no name for — DC, as every Active Directory certificate has, UID, emailAddress — is
// pinned as openssl and the issuing CA write it ("CN=verify,OU=Service,DC=corp,DC=example").
// Before, it was compared with Go's string of the subject, which writes those attributes
// as dotted OIDs with hex DER values and moves them to its end: no pin written as anyone
// writes a subject ever matched. The pin of Go's string still matches; another CN does not.
func TestMTLSSubjectPinDomainComponents(t *testing.T) {
	check := func(pin string, cert *x509.Certificate) bool {
		a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{pin}})
		r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
		r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
		ok, _, _ := a.check(r)
		return ok
	}
	verify, other := adSubject(t, "verify"), adSubject(t, "other")
	for _, tc := range []struct {
		pin  string
		cert *x509.Certificate
		want bool
	}{
		{"CN=verify,OU=Service,DC=corp,DC=example", verify, true},
		{"CN=verify, OU=Service, DC=corp, DC=example", verify, true},
		{"cn=verify,ou=Service,dc=corp,dc=example", verify, true},
		{verify.Subject.String(), verify, true},
		{"CN=verify,OU=Service,DC=corp,DC=example", other, false},
		{"CN=verify,OU=Service,DC=example,DC=corp", verify, false},
	} {
		if got := check(tc.pin, tc.cert); got != tc.want {
			t.Errorf("pin %q, subject %q: admitted %v, want %v", tc.pin, tc.cert.Subject.String(), got, tc.want)
		}
	}
}
