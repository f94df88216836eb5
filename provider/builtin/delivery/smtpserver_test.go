package delivery

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed certificate for 127.0.0.1 and localhost, and a pool trusting it.
var testCert = sync.OnceValues(func() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "emfa test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
})

// mailServer is a real SMTP server (emersion/go-smtp) on a loopback port that records what it
// receives.
type mailServer struct {
	host string
	port int

	// mode is TLSNone (no TLS at all, STARTTLS not offered), TLSStartTLS (STARTTLS offered)
	// or TLSImplicit (a TLS listener).
	mode     string
	username string // AUTH PLAIN required when set
	password string

	mu    sync.Mutex
	mails []receivedMail
	trace bytes.Buffer // the server's protocol trace
}

// receivedMail is one message as the server saw it.
type receivedMail struct {
	From string
	To   []string
	Data string
	TLS  bool
	User string // who authenticated, "" for nobody
}

type mailServerOptions struct {
	mode               string
	username, password string
	// noTrace leaves the protocol trace off, for benchmarks.
	noTrace bool
}

// startMailServer starts a server in the given mode and stops it when the test ends.
func startMailServer(tb testing.TB, o mailServerOptions) *mailServer {
	tb.Helper()
	s := &mailServer{mode: o.mode, username: o.username, password: o.password}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.ErrorLog = log.New(io.Discard, "", 0)
	if !o.noTrace {
		srv.Debug = traceWriter{s}
	}
	cert, _ := testCert()
	var l net.Listener
	var err error
	switch o.mode {
	case TLSNone:
		// Plaintext AUTH is this server's only way to test AllowPlaintextAuth.
		srv.AllowInsecureAuth = true
		l, err = net.Listen("tcp", "127.0.0.1:0")
	case TLSStartTLS:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		l, err = net.Listen("tcp", "127.0.0.1:0")
	case TLSImplicit:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		l, err = tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	default:
		tb.Fatalf("mode %q", o.mode)
	}
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Serve(l)
	tb.Cleanup(func() { srv.Close() })
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	return s
}

// NewSession implements smtp.Backend.
func (s *mailServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{srv: s, conn: c}, nil
}

// received returns the messages received so far.
func (s *mailServer) received() []receivedMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]receivedMail(nil), s.mails...)
}

// protocolTrace returns both sides of every conversation so far.
func (s *mailServer) protocolTrace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.String()
}

type traceWriter struct{ s *mailServer }

func (w traceWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.trace.Write(p)
}

// mailSession implements smtp.Session and smtp.AuthSession.
type mailSession struct {
	srv  *mailServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*mailSession)(nil)

func (m *mailSession) AuthMechanisms() []string {
	if m.srv.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (m *mailSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != m.srv.username || password != m.srv.password {
			return smtp.ErrAuthFailed
		}
		m.user = username
		return nil
	}), nil
}

func (m *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if m.srv.username != "" && m.user == "" {
		return smtp.ErrAuthRequired
	}
	m.from = from
	return nil
}

func (m *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if m.srv.username != "" && m.user == "" {
		return smtp.ErrAuthRequired
	}
	if strings.HasSuffix(to, "@rejected.example") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	m.to = append(m.to, to)
	return nil
}

func (m *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(m.to) == 0 {
		return errors.New("no recipients")
	}
	_, isTLS := m.conn.TLSConnectionState()
	m.srv.mu.Lock()
	m.srv.mails = append(m.srv.mails, receivedMail{From: m.from, To: m.to, Data: string(b), TLS: isTLS, User: m.user})
	m.srv.mu.Unlock()
	return nil
}

func (m *mailSession) Reset() { m.from, m.to = "", nil }

func (m *mailSession) Logout() error { return nil }

// silentServer accepts connections and never says a word: a relay that hangs. closed
// receives once for every connection the client has closed.
func silentServer(tb testing.TB) (host string, port int, closed <-chan struct{}) {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				// Reads until the client closes its end (or the test closes ours).
				io.Copy(io.Discard, c)
				ch <- struct{}{}
			}()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	h, p, _ := net.SplitHostPort(l.Addr().String())
	port, _ = strconv.Atoi(p)
	return h, port, ch
}

// closedPort is a loopback port nothing listens on.
func closedPort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}
