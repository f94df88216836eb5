package adapter

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
)

// parseRFC4514 splits an RFC 4514 string as Go writes one into its attributes, last RDN
// first, each "TYPE=value" with the value unescaped: independent of canonicalSubject's
// splitter, so that a rendering that lets a value pass for a separator shows.
func parseRFC4514(s string) (types, values []string) {
	var typ, val strings.Builder
	inValue := false
	flush := func() {
		types, values = append(types, typ.String()), append(values, val.String())
		typ.Reset()
		val.Reset()
		inValue = false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			i++
			val.WriteByte(s[i])
		case c == ',' || c == '+':
			flush()
		case c == '=' && !inValue:
			inValue = true
		case inValue:
			val.WriteByte(c)
		default:
			typ.WriteByte(c)
		}
	}
	flush()
	return types, values
}

// FuzzSubjectRendering: a subject's renderings are what a pin is matched with,
// so they must say that subject and no other. For a subject of a CN, an O and a DC (an
// attribute namedSubject writes by name) of any value:
//   - Go's string (pkix.Name.String) and namedSubject are fixed points of
//     canonicalSubject: a pin copied from either matches, spelled as it is;
//   - namedSubject parses back, attribute by attribute, to the subject's own: a value
//     crafted with ",CN=verify", "+", "\\" or spaces cannot pass for another attribute,
//     and so cannot make a CA-issued certificate's rendering equal another's pin.
func FuzzSubjectRendering(f *testing.F) {
	f.Add("verify", "Example", "corp")
	f.Add("verify ", " Example", `x\,CN=verify`)
	f.Add("#a", `a\`, "b,CN=verify+O=x")
	f.Add(" ", "=", `\ `)
	f.Fuzz(func(t *testing.T, cn, o, dc string) {
		if cn == "" { // Go leaves an empty CN out of its string
			return
		}
		oid := func(v ...int) asn1.ObjectIdentifier { return v }
		rdns := pkix.RDNSequence{
			{{Type: oid(0, 9, 2342, 19200300, 100, 1, 25), Value: dc}},
			{{Type: oid(2, 5, 4, 10), Value: o}},
			{{Type: oid(2, 5, 4, 3), Value: cn}},
		}
		raw, err := asn1.Marshal(rdns)
		if err != nil {
			return // not a string DER can hold
		}
		var back pkix.RDNSequence
		if _, err := asn1.Unmarshal(raw, &back); err != nil {
			return
		}
		cert := &x509.Certificate{RawSubject: raw}
		cert.Subject.FillFromRDNSequence(&back)
		if s := cert.Subject.String(); canonicalSubject(s) != s {
			t.Errorf("Go's string %q is canonical as %q", s, canonicalSubject(s))
		}
		named := namedSubject(cert)
		if canonicalSubject(named) != named {
			t.Errorf("named %q is canonical as %q", named, canonicalSubject(named))
		}
		types, values := parseRFC4514(named)
		wantTypes := []string{"CN", "O", "DC"}
		wantValues := []string{back[2][0].Value.(string), back[1][0].Value.(string), back[0][0].Value.(string)}
		if strings.Join(types, "|") != strings.Join(wantTypes, "|") || len(values) != 3 ||
			values[0] != wantValues[0] || values[1] != wantValues[1] || values[2] != wantValues[2] {
			t.Errorf("named %q reads as %q %q, want %q %q", named, types, values, wantTypes, wantValues)
		}
	})
}
