package adapter

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// TestMTLSSubjectPinAsOpensslEscapes: the README tells an operator to pin a
// subject as openssl prints it. openssl writes a UTF-8 byte as a hex escape in both its
// forms (`O=Soci\C3\A9t\C3\A9`), and, in its default one, a value holding a comma in
// quotes (`CN = "a,b verify"`); RFC 4514 allows `\2C` for a comma and `\=` anywhere.
// Such pins were compared escape for escape with Go's string (raw UTF-8, `\,`) and never
// matched: every call of a tenant whose subject is not plain ASCII was refused. A pin's
// value is now read (escapes, quotes) and written again as Go writes it. The value still
// is the value: an escaped comma never separates attributes, and another value is refused.
func TestMTLSSubjectPinAsOpensslEscapes(t *testing.T) {
	oid := func(v ...int) asn1.ObjectIdentifier { return v }
	cert := realCert(t, pkix.RDNSequence{
		{{Type: oid(2, 5, 4, 10), Value: "Société Générale"}},
		{{Type: oid(2, 5, 4, 3), Value: "a,b verify"}},
	})
	split := realCert(t, pkix.RDNSequence{
		{{Type: oid(2, 5, 4, 10), Value: "y"}},
		{{Type: oid(2, 5, 4, 3), Value: "a"}},
	})
	for _, tc := range []struct {
		pin  string
		want bool
	}{
		{cert.Subject.String(), true},
		{`CN=a\,b verify,O=Soci\C3\A9t\C3\A9 G\C3\A9n\C3\A9rale`, true},       // openssl -nameopt RFC2253
		{`CN = "a,b verify", O = Soci\C3\A9t\C3\A9 G\C3\A9n\C3\A9rale`, true}, // openssl's default, in RFC 2253's order
		{`CN=a\2Cb verify,O=Société Générale`, true},
		{`CN=a\2Cb\20verify,O=Soci\c3\a9t\c3\a9 G\c3\a9n\c3\a9rale`, true},
		{`CN=a\2Cb verify,O=Soci\C3\A9t\C3\A9`, false},
		{`CN=a\2Cc verify,O=Société Générale`, false},
		{`CN = "a,b verify", O = "Soci\C3\A9t\C3\A9 G\C3\A9n\C3\A9ral"`, false},
	} {
		if got := mtlsAdmits(tc.pin, cert); got != tc.want {
			t.Errorf("pin %q, subject %q: admitted %v, want %v", tc.pin, cert.Subject.String(), got, tc.want)
		}
	}
	for _, pin := range []string{`CN=a\2CO=y`, `CN=a\,O=y`, `CN="a,O=y"`, `O=y\2CCN=a`} {
		if mtlsAdmits(pin, split) {
			t.Errorf("pin %q admitted the subject %q: an escaped comma separated attributes", pin, split.Subject.String())
		}
	}
}
