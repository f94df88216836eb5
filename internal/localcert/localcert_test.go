package localcert

import (
	"crypto/tls"
	"testing"
)

// A certificate written and read back serves a handshake its pool trusts.
func TestWrittenCertificateServes(t *testing.T) {
	c, pool, err := New("test")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := Write(c, t.TempDir(), "server")
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{loaded}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if s, err := ln.Accept(); err == nil {
			_ = s.(*tls.Conn).Handshake()
			s.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("handshake with the written certificate: %v", err)
	}
	conn.Close()
}
