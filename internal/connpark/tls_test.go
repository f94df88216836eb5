//go:build unix

package connpark

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testwait"
)

// tlsTest is a CA, a server certificate for 127.0.0.1 and a client certificate ("alice"),
// all issued by the CA.
type tlsTest struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
	// netHTTP serves with net/http's own TLS (tls.NewListener), not NewTLS: nothing is
	// parked (BenchmarkRequest's comparison).
	netHTTP bool
}

func newTLSTest(t testing.TB) *tlsTest {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, tmpl *x509.Certificate) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(serial), now.Add(-time.Hour), now.Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	tt := &tlsTest{pool: x509.NewCertPool()}
	tt.pool.AddCert(ca)
	tt.server = issue(2, &x509.Certificate{Subject: pkix.Name{CommonName: "server"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	tt.client = issue(3, &x509.Certificate{Subject: pkix.Name{CommonName: "alice"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return tt
}

// dialTLS connects under TLS, with the client certificate when withCert.
func (s *server) dialTLS(withCert bool) *client {
	s.t.Helper()
	cfg := &tls.Config{RootCAs: s.tls.pool, ServerName: "127.0.0.1"}
	suffix := " tls:-"
	if withCert {
		cfg.Certificates, suffix = []tls.Certificate{s.tls.client}, " tls:alice"
	}
	c, err := tls.Dial("tcp", s.addr, cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &client{t: s.t, c: c, r: bufio.NewReader(c), suffix: suffix}
}

// A parked TLS connection is the same session when its next request comes: no new
// handshake, and its requests still carry the client's certificate.
func TestTLSParkedConnectionKeepsItsSession(t *testing.T) {
	for _, withCert := range []bool{true, false} {
		s := serveWith(t, 10*time.Millisecond, time.Minute, newTLSTest(t), 5*time.Second)
		c := s.dialTLS(withCert)
		c.send(request("/one", "a"))
		c.answer("/one", "a")
		s.waitParked(1)
		c.send(request("/two", "b"))
		c.answer("/two", "b")
		s.waitParked(1)
		c.send(request("/three", "c"))
		c.answer("/three", "c")
		if n := s.news.Load(); n != 3 {
			t.Errorf("net/http began serving %d connections, want 3 (the new one, then given back twice)", n)
		}
		if n := s.handshakes.Load(); n != 1 {
			t.Errorf("%d handshakes, want 1", n)
		}
	}
}

// The next request's first bytes, already decrypted into net/http's buffer, keep a TLS
// connection from being parked, as on plain HTTP.
func TestTLSPipelinedRequestsAreNotLost(t *testing.T) {
	s := serveWith(t, time.Millisecond, time.Minute, newTLSTest(t), 5*time.Second)
	pipelined(t, s, s.dialTLS(true))
}

func TestTLSIdleTimeoutAndHangUpWhileParked(t *testing.T) {
	s := serveWith(t, time.Millisecond, 100*time.Millisecond, newTLSTest(t), 5*time.Second)
	c := s.dialTLS(false)
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	s.waitParked(1)
	c.closed()
	waitFor(t, "the parked connection to be dropped", func() bool { return s.l.Parked() == 0 })

	s = serveWith(t, time.Millisecond, time.Minute, newTLSTest(t), 5*time.Second)
	c = s.dialTLS(false)
	c.send(request("/one", "a"))
	c.answer("/one", "a")
	s.waitParked(1)
	c.c.Close() // a close_notify, then the hang-up
	waitFor(t, "the hung-up connection to be dropped", func() bool { return s.l.Parked() == 0 })
}

// A plain-HTTP request to the HTTPS listener gets net/http's answer to it, and each failed
// handshake is reported with net/http's reason.
func TestTLSHandshakeFailures(t *testing.T) {
	s := serveWith(t, time.Millisecond, time.Minute, newTLSTest(t), 5*time.Second)
	c := s.dial()
	c.send(request("/plain", "x"))
	got, _ := io.ReadAll(c.r)
	if !strings.HasPrefix(string(got), "HTTP/1.0 400 Bad Request") || !strings.Contains(string(got), "HTTP request to an HTTPS server") {
		t.Errorf("plain HTTP answered %q", got)
	}
	if err := testwait.Recv(t, "the failed handshake's report", s.failed); !errors.Is(err, ErrHTTPToHTTPS) {
		t.Errorf("plain HTTP: %v", err)
	}

	// A client that does not trust the server's certificate gives up mid-handshake, with
	// an alert saying why.
	_, err := tls.Dial("tcp", s.addr, &tls.Config{ServerName: "127.0.0.1", RootCAs: x509.NewCertPool()})
	if err == nil {
		t.Fatal("a client without the CA completed the handshake")
	}
	if err := testwait.Recv(t, "the failed handshake's report", s.failed); err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "tls") {
		t.Errorf("a client refusing the certificate: %v", err)
	}

	// A TCP health check connects and hangs up: io.EOF, for the log to tell it apart.
	c = s.dial()
	c.c.Close()
	if err := testwait.Recv(t, "the failed handshake's report", s.failed); !errors.Is(err, io.EOF) {
		t.Errorf("a connection closed before a byte: %v", err)
	}
	if n := s.news.Load(); n != 3 {
		t.Errorf("net/http began serving %d connections, want 3", n)
	}
}

// A client that opens a connection and sends nothing is held no longer than
// ReadHeaderTimeout: the handshake is within that request's deadline.
func TestTLSSilentClientTimesOut(t *testing.T) {
	s := serveWith(t, time.Hour, time.Minute, newTLSTest(t), 50*time.Millisecond)
	c := s.dial()
	c.closed() // the client's own deadline is 20 s
	if err := testwait.Recv(t, "the failed handshake's report", s.failed); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("a silent client: %v, want a timeout", err)
	}
}
