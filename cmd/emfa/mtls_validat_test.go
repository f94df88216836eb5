package main

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"
)

// TestKeptConnectionExpiryBoundary: a kept connection's chain is judged at the
// instants crypto/x509 judges a handshake's: a certificate is valid from its NotBefore
// to its NotAfter, both included, and not a nanosecond past; an intermediate that expires
// ends the chain as the leaf's expiry does. The check allocates nothing: it runs on every
// request of an mTLS listener.
func TestKeptConnectionExpiryBoundary(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	leaf := &x509.Certificate{Raw: []byte("leaf"), NotBefore: t0, NotAfter: t0.Add(time.Hour)}
	inter := &x509.Certificate{Raw: []byte("inter"), NotBefore: t0, NotAfter: t0.Add(30 * time.Minute)}
	root := &x509.Certificate{Raw: []byte("root"), NotBefore: t0, NotAfter: t0.Add(24 * time.Hour)}
	now := t0
	s := &tlsSettings{roots: map[string]bool{"root": true}, now: func() time.Time { return now }}
	cs := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf, inter},
		VerifiedChains: [][]*x509.Certificate{{leaf, inter, root}}}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},
		{t0.Add(-time.Nanosecond), false},
		{t0.Add(30 * time.Minute), true},
		{t0.Add(30*time.Minute + time.Nanosecond), false},
	} {
		now = tc.at
		if got := s.admits(cs); got != tc.want {
			t.Errorf("at %v: admitted %v, want %v", tc.at.Sub(t0), got, tc.want)
		}
	}
	// x509's own verdict at the same instants: expired exactly past NotAfter.
	if !validAt([]*x509.Certificate{leaf}, leaf.NotAfter) || validAt([]*x509.Certificate{leaf}, leaf.NotAfter.Add(time.Nanosecond)) {
		t.Error("a leaf's NotAfter is judged otherwise than crypto/x509 judges it")
	}
	if raceEnabled {
		return
	}
	now = t0
	if n := testing.AllocsPerRun(100, func() { s.admits(cs) }); n != 0 {
		t.Errorf("admits: %v allocations a request, want 0", n)
	}
}
