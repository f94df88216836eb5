package adapter

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"net/http/httptest"
	"testing"
)

// realCert is a certificate as crypto/x509 parses one: its Subject read from RawSubject.
func realCert(t testing.TB, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	c := &x509.Certificate{RawSubject: raw}
	c.Subject.FillFromRDNSequence(&rdns)
	return c
}

func mtlsCheckAllocs(t *testing.T, pin string, cert *x509.Certificate) float64 {
	t.Helper()
	a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{"CN=someone,O=Else", pin}})
	r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
	if ok, why, _ := a.check(r); !ok {
		t.Fatalf("pin %q: refused: %s", pin, why)
	}
	return testing.AllocsPerRun(200, func() { a.check(r) })
}

// TestMTLSPinnedSubjectAllocs: the subject check of a pinned mTLS tenant runs on
// every contract call. It rendered the certificate's subject (Go's string, dozens of
// allocations) each time, and for a subject with domain components (every Active
// Directory CA's) parsed and rendered it a second time (namedSubject). A subject once
// admitted is now known by its DER: the same certificate's next calls allocate nothing.
func TestMTLSPinnedSubjectAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are counted without -race")
	}
	plain := realCert(t, pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Example"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "verify"}},
	})
	if n := mtlsCheckAllocs(t, "CN = verify, O = Example", plain); n != 0 {
		t.Errorf("a subject pinned as Go writes it: %v allocations a call, want 0", n)
	}
	ad := adSubject(t, "verify")
	if n := mtlsCheckAllocs(t, "CN=verify,OU=Service,DC=corp,DC=example", ad); n != 0 {
		t.Errorf("a subject with domain components: %v allocations a call, want 0", n)
	}
}

func BenchmarkMTLSPinnedSubject(b *testing.B) {
	dc := asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}
	cert := realCert(b, pkix.RDNSequence{
		{{Type: dc, Value: "example"}},
		{{Type: dc, Value: "corp"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "Service"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "verify"}},
	})
	a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{"CN=verify,OU=Service,DC=corp,DC=example"}})
	r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _ := a.check(r); !ok {
			b.Fatal("refused")
		}
	}
}

// TestMTLSAdmittedSubjectsOnlyItsOwn: a subject once admitted admits only
// itself: another certificate of the same CA, its CN another, is still refused after it,
// and one refused is refused again (nothing refused is kept). The set is bounded.
func TestMTLSAdmittedSubjectsOnlyItsOwn(t *testing.T) {
	a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{"CN=verify,OU=Service,DC=corp,DC=example"}})
	check := func(cert *x509.Certificate) bool {
		r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
		r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
		ok, _, _ := a.check(r)
		return ok
	}
	verify, other := adSubject(t, "verify"), adSubject(t, "other")
	for i := range 3 {
		if !check(verify) {
			t.Fatalf("call %d: the pinned subject refused", i)
		}
		if check(other) {
			t.Fatalf("call %d: another subject admitted after the pinned one", i)
		}
	}
	s := &admittedSubjects{}
	for i := range maxAdmittedSubjects + 5 {
		s.add([]byte{byte(i), byte(i >> 8)})
	}
	if n := len(*s.set.Load()); n != maxAdmittedSubjects {
		t.Errorf("%d subjects kept, want at most %d", n, maxAdmittedSubjects)
	}
	if s.has([]byte{byte(maxAdmittedSubjects + 1), 0}) || !s.has([]byte{1, 0}) {
		t.Error("has does not say what add kept")
	}
}

// mtlsAdmits reports whether an authenticator pinning pin admits cert.
func mtlsAdmits(pin string, cert *x509.Certificate) bool {
	a := newAuthenticator(Auth{MTLS: true, MTLSSubjects: []string{pin}})
	r := httptest.NewRequest("POST", "/v1/providers/acme/test", nil)
	r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{cert}}}
	ok, _, _ := a.check(r)
	return ok
}
