package main

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// TestMtlsExpiredOnKeptConnection: a client certificate is verified at the
// handshake only, and a connection Verify keeps alive can outlive it. Each request on a
// connection is checked against the current server.tls already (a CA removed by a reload
// refuses it); a certificate of its chain that has expired since, or is not valid yet by
// emfa's clock, refuses it too, so that the client connects again and its handshake
// verifies the certificate anew. Before, a certificate past its notAfter — a short-lived
// one meant to lapse, one whose key leaked — kept admitting calls for as long as its
// connection lasted.
func TestMtlsExpiredOnKeptConnection(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	root := &x509.Certificate{Raw: []byte("root"), NotBefore: start.Add(-time.Hour), NotAfter: start.Add(48 * time.Hour)}
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotBefore: start.Add(-time.Minute), NotAfter: start.Add(time.Hour)}
	// A leaf that outlives its root: the root's expiry alone refuses it.
	long := &x509.Certificate{Raw: []byte("long"), NotBefore: start.Add(-time.Minute), NotAfter: start.Add(100 * time.Hour)}
	now := start
	s := &tlsSettings{roots: map[string]bool{"root": true}, require: true, now: func() time.Time { return now }}
	for _, tc := range []struct {
		name string
		leaf *x509.Certificate
		at   time.Time
		want bool
	}{
		{"within its validity", leaf, start.Add(30 * time.Minute), true},
		{"past the leaf's notAfter", leaf, start.Add(61 * time.Minute), false},
		{"before the leaf's notBefore", leaf, start.Add(-2 * time.Minute), false},
		{"a long leaf within its root's validity", long, start.Add(47 * time.Hour), true},
		{"a long leaf past the root's notAfter", long, start.Add(49 * time.Hour), false},
	} {
		now = tc.at
		cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{tc.leaf}, VerifiedChains: [][]*x509.Certificate{{tc.leaf, root}}}
		if got := s.admits(cs); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.name, got, tc.want)
		}
	}
}
