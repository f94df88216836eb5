// Package smtpfake is a real SMTP server for tests (emersion/go-smtp) on a loopback port.
// It speaks the protocol a relay speaks — plaintext, STARTTLS or implicit TLS, AUTH PLAIN
// when credentials are set — and keeps every message it accepts, so a test can read the
// code an e-mail carried. Recipients can be made to bounce with a permanent 550 that quotes
// them, as Postfix's does, and a connection can be made to hang, or be hung up, once a
// message is accepted (SetAfterData).
package smtpfake

import (
	"bytes"
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/emfa/emfa/internal/localcert"
)

// TLS modes, as emfa's smtp sender names them.
const (
	TLSNone     = "none"     // plaintext; STARTTLS not offered; plaintext AUTH allowed
	TLSStartTLS = "starttls" // STARTTLS offered
	TLSImplicit = "tls"      // a TLS listener (RFC 8314)
)

// Options configure a Server.
type Options struct {
	// TLS is TLSNone (the default), TLSStartTLS or TLSImplicit. The certificate is
	// self-signed for 127.0.0.1 and localhost; clients trust it through CertPool.
	TLS string
	// Username and Password, when set, make AUTH PLAIN mandatory before MAIL.
	Username, Password string
	// SMTPUTF8 offers the extension (RFC 6531): UTF-8 in mailbox names. Without it the
	// server still takes them, as a careless relay does, and the trace shows them.
	SMTPUTF8 bool
}

// Message is one message as the server accepted it.
type Message struct {
	From string
	To   []string
	Data string // the raw message, headers and body
	TLS  bool
	User string // who authenticated, "" for nobody
}

// Server is a running fake; its methods are safe for concurrent use.
type Server struct {
	opts Options
	host string
	port int
	pool *x509.CertPool

	mu       sync.Mutex
	messages []Message
	rejected map[string]bool
	// rejectContent: DATA refused, quoting the body (RejectContent).
	rejectContent bool
	trace         bytes.Buffer
	// hold: each message's DATA waits before its 250 (Hold), nil: none does.
	hold *hold
	// afterData: what the connection does once a message has been accepted (AfterData).
	afterData AfterData
}

// AfterData is what a server does on a connection once it has answered 250 to a
// message's DATA, taking responsibility for it (RFC 5321 §4.1.1.4).
type AfterData int

const (
	// Answer goes on answering commands (RSET, QUIT): a relay that works.
	Answer AfterData = iota
	// Hang reads what the client sends and answers nothing more, until the client closes
	// the connection: a relay that stalls after queueing the message.
	Hang
	// HangUp closes the connection: a relay that drops it after queueing the message.
	HangUp
)

// SetAfterData sets what connections do after a message is accepted, from the next
// message on.
func (s *Server) SetAfterData(a AfterData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.afterData = a
}

// hold is what Hold sets up: held is sent on as each message starts to wait, one lets
// one waiting message through, all (closed) every message from then on.
type hold struct {
	held    chan Message
	one     chan struct{}
	all     chan struct{}
	allOnce sync.Once
}

// Start serves on a free loopback port until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	if o.TLS == "" {
		o.TLS = TLSNone
	}
	s := &Server{opts: o, rejected: map[string]bool{}}
	srv := smtp.NewServer(s)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 10
	srv.EnableSMTPUTF8 = o.SMTPUTF8
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.Debug = traceWriter{s}
	cert, pool, err := localcert.New("emfa smtpfake")
	if err != nil {
		tb.Fatal(err)
	}
	s.pool = pool
	var l net.Listener
	switch o.TLS {
	case TLSNone:
		srv.AllowInsecureAuth = true
	case TLSStartTLS, TLSImplicit:
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	default:
		tb.Fatalf("smtpfake: TLS mode %q (want none, starttls or tls)", o.TLS)
	}
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	l = mutingListener{l}
	if o.TLS == TLSImplicit {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	go srv.Serve(l)
	tb.Cleanup(func() {
		s.ReleaseAll() // no session left waiting behind a closed server
		srv.Close()
	})
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	return s
}

// Hold makes every message from now on wait, its DATA read and its 250 not yet
// answered, until Release lets it through (or ReleaseAll every one): a test sees what
// the sender's caller does while the message is still on its way. Held tells of each
// message as it starts to wait. The test's end lets every one go.
func (s *Server) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		s.hold = &hold{held: make(chan Message, 64), one: make(chan struct{}), all: make(chan struct{})}
	}
}

// Held receives each message as it starts to wait, in the order they came (Hold; nil
// before Hold).
func (s *Server) Held() <-chan Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hold == nil {
		return nil
	}
	return s.hold.held
}

// Release lets one waiting message through; it waits for one to be waiting.
func (s *Server) Release() {
	s.mu.Lock()
	h := s.hold
	s.mu.Unlock()
	if h == nil {
		return
	}
	select {
	case h.one <- struct{}{}:
	case <-h.all:
	}
}

// ReleaseAll lets every message through, those waiting and those to come.
func (s *Server) ReleaseAll() {
	s.mu.Lock()
	h := s.hold
	s.mu.Unlock()
	if h != nil {
		h.allOnce.Do(func() { close(h.all) })
	}
}

// Host is the server's address (127.0.0.1).
func (s *Server) Host() string { return s.host }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// CertPool trusts the server's certificate.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns the messages accepted so far, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// To returns the messages accepted for address (compared case-insensitively), oldest
// first.
func (s *Server) To(address string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, address) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Reject makes RCPT TO for address fail with 550 5.1.1 as Postfix words it, quoting the
// address ("<bob@example.com>: Recipient address rejected: User unknown in local
// recipient table"), or accepted again when reject is false.
func (s *Server) Reject(address string, reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[strings.ToLower(address)] = reject
}

// RejectContent makes DATA fail with 554 5.7.1 as a content filter words it, quoting the
// body's last line that is not empty ("Message content rejected: Your code is 123456"),
// or accepted again when reject is false.
func (s *Server) RejectContent(reject bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejectContent = reject
}

// Trace returns both sides of every conversation so far.
func (s *Server) Trace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trace.String()
}

type traceWriter struct{ s *Server }

func (w traceWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.trace.Write(p)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{srv: s, conn: c}, nil
}

// session implements smtp.Session and smtp.AuthSession.
type session struct {
	srv  *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (m *session) AuthMechanisms() []string {
	if m.srv.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (m *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != m.srv.opts.Username || password != m.srv.opts.Password {
			return smtp.ErrAuthFailed
		}
		m.user = username
		return nil
	}), nil
}

func (m *session) Mail(from string, _ *smtp.MailOptions) error {
	if m.srv.opts.Username != "" && m.user == "" {
		return smtp.ErrAuthRequired
	}
	m.from = from
	return nil
}

func (m *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if m.srv.opts.Username != "" && m.user == "" {
		return smtp.ErrAuthRequired
	}
	m.srv.mu.Lock()
	rejected := m.srv.rejected[strings.ToLower(to)]
	m.srv.mu.Unlock()
	if rejected {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown in local recipient table"}
	}
	m.to = append(m.to, to)
	return nil
}

func (m *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(m.to) == 0 {
		return errors.New("no recipients")
	}
	_, isTLS := m.conn.TLSConnectionState()
	msg := Message{From: m.from, To: m.to, Data: string(b), TLS: isTLS, User: m.user}
	m.srv.mu.Lock()
	if h := m.srv.hold; h != nil {
		m.srv.mu.Unlock()
		select {
		case h.held <- msg:
		case <-h.all:
		}
		select {
		case <-h.one:
		case <-h.all:
		}
		m.srv.mu.Lock()
	}
	if m.srv.rejectContent {
		m.srv.mu.Unlock()
		var quoted string
		for _, line := range strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n") {
			if strings.TrimSpace(line) != "" {
				quoted = strings.TrimSpace(line)
			}
		}
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message content rejected: " + quoted}
	}
	m.srv.messages = append(m.srv.messages, msg)
	after := m.srv.afterData
	m.srv.mu.Unlock()
	if after != Answer {
		// The 250 is written after Data returns; the reads that follow it see the mute.
		if mc := mutingConnOf(m.conn.Conn()); mc != nil {
			mc.mute(after)
		}
	}
	return nil
}

func (m *session) Reset() { m.from, m.to = "", nil }

func (m *session) Logout() error { return nil }

// Header returns the decoded value of the message's header name ("" when absent).
func (m Message) Header(name string) string {
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return ""
	}
	v, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get(name))
	if err != nil {
		return msg.Header.Get(name)
	}
	return v
}

// Subject is the decoded Subject header.
func (m Message) Subject() string { return m.Header("Subject") }

// Text is the message's plain-text body, its transfer encoding undone: the body of a
// single-part message, or the first text/plain part of a multipart one.
func (m Message) Text() (string, error) {
	msg, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		return "", fmt.Errorf("smtpfake: %w", err)
	}
	return textOf(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
}

func textOf(contentType, encoding string, body io.Reader) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mediaType, err = "text/plain", nil
	}
	if err != nil {
		return "", fmt.Errorf("smtpfake: content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return "", fmt.Errorf("smtpfake: no text/plain part: %w", err)
			}
			if ct := p.Header.Get("Content-Type"); ct == "" || strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "multipart/") {
				return textOf(ct, p.Header.Get("Content-Transfer-Encoding"), p)
			}
		}
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, newlineStripper{body})
	}
	b, err := io.ReadAll(body)
	if err != nil {
		return "", fmt.Errorf("smtpfake: body: %w", err)
	}
	return strings.ReplaceAll(string(b), "\r\n", "\n"), nil
}

// newlineStripper drops the line breaks of a base64 body.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// mutingListener hands out connections that can stop answering (AfterData).
type mutingListener struct{ net.Listener }

func (l mutingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &mutingConn{Conn: c}, nil
}

// mutingConn is a connection whose reads, once muted, give the server nothing more: they
// wait for the client to close (Hang) or end at once with the connection closed (HangUp).
type mutingConn struct {
	net.Conn
	mu    sync.Mutex
	after AfterData
}

func (c *mutingConn) mute(a AfterData) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after = a
}

func (c *mutingConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	after := c.after
	c.mu.Unlock()
	switch after {
	case Hang:
		// Past the server's read timeout too, which would otherwise hang up after 10 s.
		c.Conn.SetReadDeadline(time.Time{})
		_, err := io.Copy(io.Discard, c.Conn)
		return 0, cmp.Or(err, io.EOF)
	case HangUp:
		c.Conn.Close()
		return 0, io.EOF
	}
	return c.Conn.Read(p)
}

// mutingConnOf is the mutingConn under a session's connection, TLS or not.
func mutingConnOf(c net.Conn) *mutingConn {
	for {
		switch v := c.(type) {
		case *mutingConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		default:
			return nil
		}
	}
}
