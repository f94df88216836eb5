package delivery

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	netmail "net/mail"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wneessen/go-mail"
	"golang.org/x/net/idna"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
)

// TLS modes of an SMTP connection.
const (
	// TLSNone is a plaintext connection: for a relay on the same host or network only.
	TLSNone = "none"
	// TLSStartTLS upgrades the connection with STARTTLS (RFC 3207) and fails if the server
	// does not offer it; the submission port 587.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (RFC 8314); the submissions port 465.
	TLSImplicit = "tls"
)

// SMTPOptions configure an SMTP sender.
type SMTPOptions struct {
	Host string
	// Port defaults to 587 for starttls, 465 for tls and 25 for none.
	Port int
	// TLS is TLSStartTLS (the default), TLSImplicit or TLSNone.
	TLS string
	// Username and Password authenticate with AUTH PLAIN, or LOGIN when the server offers
	// only that; both empty sends without authentication.
	Username string
	Password config.Secret
	// AllowPlaintextAuth permits a password over a TLSNone connection, for a relay reached
	// over a trusted link. Without it such a configuration is refused, and it is refused with
	// any other TLS mode, where it would mean nothing.
	AllowPlaintextAuth bool
	// From is the sender, "otp@example.com" or "Example <otp@example.com>". Its domain is also
	// the right-hand side of the Message-ID.
	From string
	// Timeout bounds one send, from dialling to QUIT; DefaultTimeout when unset.
	Timeout time.Duration
	// InsecureSkipVerify accepts any server certificate. It exists for tests and a local
	// development relay with a self-signed certificate; in production it hands the password
	// and every code to whoever can intercept the connection. Prefer RootCAs.
	InsecureSkipVerify bool
	// RootCAs, when set, replaces the system roots for verifying the server: a private CA,
	// or a test's own certificate.
	RootCAs *x509.CertPool
}

var _ slog.LogValuer = SMTPOptions{}

// LogValue shows where mail goes and how, never the password.
func (o SMTPOptions) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", o.Host),
		slog.Int("port", o.Port),
		slog.String("tls", o.TLS),
		slog.String("username", o.Username),
		slog.String("from", o.From),
	)
}

// SMTP sends e-mail through a submission server, one connection per message: codes are few
// and far between, and a pooled SMTP session would need keep-alives that relays dislike.
type SMTP struct {
	host      string
	addr      string // host:port, IPv6 literals bracketed
	mode      string
	from      *netmail.Address
	domain    string // of From, for Message-IDs
	opts      []mail.Option
	tlsConfig *tls.Config
	timeout   time.Duration
	now       func() time.Time
}

var _ Sender = (*SMTP)(nil)

// NewSMTP validates o, reporting every problem at once, and returns the sender.
func NewSMTP(o SMTPOptions) (*SMTP, error) {
	var errs []error
	mode := cmp.Or(o.TLS, TLSStartTLS)
	port := o.Port
	switch mode {
	case TLSStartTLS:
		port = cmp.Or(port, 587)
	case TLSImplicit:
		port = cmp.Or(port, 465)
	case TLSNone:
		port = cmp.Or(port, 25)
	default:
		errs = append(errs, errors.New("tls: want none, starttls or tls"))
	}
	if o.Host == "" || strings.ContainsFunc(o.Host, unicode.IsSpace) || strings.ContainsAny(o.Host, ":/") && net.ParseIP(o.Host) == nil {
		errs = append(errs, errors.New("host: want a host name or an IP address"))
	}
	if port < 1 || port > 65535 {
		errs = append(errs, fmt.Errorf("port %d: out of range", port))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %s: negative", o.Timeout))
	}
	from, err := netmail.ParseAddress(o.From)
	if err == nil {
		// As a recipient's (Send), the domain goes out in its A-label form.
		var ok bool
		if from.Address, ok = ASCIIDomain(from.Address); !ok {
			err = errors.New("domain")
		}
	}
	if err != nil {
		errs = append(errs, errors.New("from: want one e-mail address, e.g. otp@example.com"))
	}
	auth := o.Username != "" || o.Password != ""
	switch {
	case auth && (o.Username == "" || o.Password == ""):
		errs = append(errs, errors.New("username and password: set both or neither"))
	case auth && mode == TLSNone && !o.AllowPlaintextAuth:
		errs = append(errs, errors.New("password over a plaintext connection: use tls or starttls, or set allowPlaintextAuth"))
	}
	if strings.ContainsAny(o.Username, "\r\n\x00") {
		errs = append(errs, errors.New("username: holds a line break or NUL"))
	}
	if strings.ContainsAny(o.Password.Reveal(), "\r\n\x00") {
		// Read with its trailing newline, it would make every send a 535. Not repeated.
		errs = append(errs, errors.New("password: must not hold a line break or NUL (a secret read with its trailing newline?)"))
	}
	if o.AllowPlaintextAuth && mode != TLSNone {
		errs = append(errs, fmt.Errorf("allowPlaintextAuth: only meaningful with tls none, not %s", mode))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("smtp: %w", errors.Join(errs...))
	}

	helo, err := os.Hostname()
	if err != nil || helo == "" {
		helo = "localhost"
	}
	tlsConfig := &tls.Config{
		ServerName:         o.Host,
		RootCAs:            o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // documented as tests/development only
		MinVersion:         tls.VersionTLS12,
	}
	opts := []mail.Option{
		mail.WithPort(port),
		mail.WithHELO(helo),
		mail.WithTLSConfig(tlsConfig),
		// One message per connection just opened, QUIT after it: a NOOP to check it, or
		// a RSET (with its own NOOP) after the message, would only be more round trips to
		// wait for (send).
		mail.WithoutNoop(),
		mail.WithoutRset(),
	}
	switch mode {
	case TLSStartTLS:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	default:
		// Implicit TLS is done by dial, below; go-mail must not try STARTTLS on top.
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	}
	switch {
	case !auth:
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthNoAuth))
	case mode == TLSNone:
		// go-mail refuses PLAIN and LOGIN without TLS unless told; we were told.
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc),
			mail.WithUsername(o.Username), mail.WithPassword(o.Password.Reveal()))
	default:
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(o.Username), mail.WithPassword(o.Password.Reveal()))
	}
	_, domain, _ := strings.Cut(from.Address, "@")
	return &SMTP{
		host:      o.Host,
		addr:      net.JoinHostPort(o.Host, strconv.Itoa(port)),
		mode:      mode,
		from:      from,
		domain:    strings.ToLower(domain),
		opts:      opts,
		tlsConfig: tlsConfig,
		timeout:   cmp.Or(o.Timeout, DefaultTimeout),
		now:       time.Now,
	}, nil
}

// Kind is "smtp".
func (*SMTP) Kind() string { return "smtp" }

// Serves reports true for Email only.
func (*SMTP) Serves(c Channel) bool { return c == Email }

// Send delivers m as a plain-text e-mail. m.To must be one bare address and m.Subject a single
// line.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	to, ok := ValidEmail(m.To)
	if ok {
		to, ok = ASCIIDomain(to)
	}
	if !ok {
		return fmt.Errorf("smtp: recipient %s: not an e-mail address", maskRecipient(m.To))
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		// A line break would let the subject write headers of its own.
		return errors.New("smtp: subject: line break")
	}
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	msg.ToMailAddress(&netmail.Address{Address: to})
	msg.Subject(m.Subject)
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	id := messageID(s.domain)
	msg.SetMessageIDWithValue(id)
	msg.SetDateWithValue(s.now())

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	left := time.Until(deadline)
	if err := ctx.Err(); err != nil || left <= 0 {
		return fmt.Errorf("smtp: send to %s: %w", MaskEmail(to), cmp.Or(err, context.DeadlineExceeded))
	}

	// go-mail bounds each command by its timeout but reads ctx only while dialling; the
	// connection is therefore closed when ctx ends (a server that accepts and then says
	// nothing), and closed again after the send, because go-mail leaves it open when the
	// greeting, STARTTLS or AUTH fails.
	var conn net.Conn
	stop := func() bool { return false }
	dial := func(dctx context.Context, network, _ string) (net.Conn, error) {
		raw, err := (&net.Dialer{}).DialContext(dctx, network, s.addr)
		if err != nil {
			return nil, err
		}
		conn, stop = raw, context.AfterFunc(ctx, func() { raw.Close() })
		var c net.Conn = &boundedConn{Conn: raw, left: maxSMTPReadBytes}
		if s.mode != TLSImplicit {
			return c, nil
		}
		tc := tls.Client(c, s.tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	client, err := mail.NewClient(s.host, append(s.opts[:len(s.opts):len(s.opts)],
		mail.WithTimeout(left), mail.WithDialContextFunc(dial))...)
	if err == nil {
		err = send(ctx, client, msg, !isASCII(to) || !isASCII(s.from.Address))
	}
	stop()
	if conn != nil {
		conn.Close()
	}
	if err == nil || msg.IsDelivered() {
		// A 250 to DATA is the relay taking the message (RFC 5321 §4.1.1.4): it is on its
		// way whatever becomes of the RSET and QUIT after it, and a failure here would end
		// the challenge whose code the user is about to receive.
		return nil
	}
	cerr := ctx.Err()
	if cerr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
		// go-mail's per-command deadline is the time left, so it fires with ctx's.
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		err = fmt.Errorf("smtp: send to %s: %w (%w)", MaskEmail(to), cerr, err)
	} else {
		err = fmt.Errorf("smtp: send to %s: %w", MaskEmail(to), err)
	}
	// A server's reply quotes the recipient (Postfix: "550 5.1.1 <bob@example.com>:
	// Recipient address rejected"), and go-mail adds "affected recipient(s): <…>"; a
	// content filter's may quote the body, code and all.
	err = maskAddressesIn(err, id)
	if masked := maskCode(err.Error(), m.Code); masked != err.Error() {
		err = provider.Retold(err, masked)
	}
	return err
}

// quitGrace is how long a relay that has taken the message is given to answer QUIT, the
// one command owed after it (RFC 5321 §4.1.1.10): a working relay answers at once, and one
// that stalls once it has queued the message must not hold the contract call for the
// time left.
const quitGrace = time.Second

// errNoSMTPUTF8 is returned (wrapped) for a mailbox name in UTF-8 and a relay that does
// not offer SMTPUTF8.
var errNoSMTPUTF8 = errors.New("the relay does not offer SMTPUTF8, which a mailbox name with non-ASCII letters needs (RFC 6531)")

// send is go-mail's DialAndSendWithContext for the one message of a connection: no NOOP
// before it (WithoutNoop), no NOOP and RSET after it (WithoutRset), and the QUIT after an
// accepted message bounded by quitGrace. A message whose
// addresses need UTF-8 (utf8) goes only to a relay that offers SMTPUTF8: the domains are
// in A-label form, but a local part has no ASCII form, and a relay without the extension
// may take the address and then mangle or bounce the message (RFC 6531 §3.2 forbids it).
func send(ctx context.Context, client *mail.Client, msg *mail.Msg, utf8 bool) error {
	sc, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fmt.Errorf("dial failed: %w", err)
	}
	if ok, _ := sc.Extension("SMTPUTF8"); utf8 && !ok {
		err = errNoSMTPUTF8
	} else if err = client.SendWithSMTPClient(sc, msg); err != nil {
		err = fmt.Errorf("send failed: %w", err)
	}
	if msg.IsDelivered() {
		_ = sc.UpdateDeadline(quitGrace)
	}
	if cerr := client.CloseWithSMTPClient(sc); cerr != nil {
		err = errors.Join(err, fmt.Errorf("failed to close connection: %w", cerr))
	}
	return err
}

// maxSMTPReadBytes bounds what one session reads from the server, TLS handshake
// included: a few replies of a few lines each, and a certificate chain. The SMTP client
// keeps a reply line, and a multi-line reply, whole however long it grows; a server, or
// whoever answers before STARTTLS, could otherwise fill memory until the timeout.
const maxSMTPReadBytes = 128 << 10

// errRepliesTooLong is returned (wrapped) when a session's reads pass maxSMTPReadBytes.
var errRepliesTooLong = errors.New("the server's replies are too long")

// boundedConn is a connection that reads at most left bytes, then fails with
// errRepliesTooLong.
type boundedConn struct {
	net.Conn
	left int
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("%w: over %d bytes", errRepliesTooLong, maxSMTPReadBytes)
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= n
	return n, err
}

// ASCIIDomain is address with an internationalised domain in its A-label form
// (jörg@bücher.example → jörg@xn--bcher-kva.example), which every server takes: raw UTF-8
// in the envelope and headers needs SMTPUTF8 (RFC 6531), which many relays do not offer.
// False for a domain IDNA refuses: the SMTP sender does not send to it.
func ASCIIDomain(address string) (string, bool) {
	i := strings.LastIndexByte(address, '@')
	domain := address[i+1:]
	if isASCII(domain) {
		return address, true
	}
	a, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", false
	}
	return address[:i+1] + a, true
}

// HostDomain reports whether address's domain, in the A-label form ASCIIDomain gives it,
// is a host name a code can be mailed to (RFC 5321 §4.1.2 Domain; RFC 1035 lengths):
// dot-separated labels of letters, digits and inner hyphens, each of 1 to 63 octets, 253
// in all, an A-label (xn--) one IDNA reads back. An address literal ([192.0.2.1]) is not:
// no user's mailbox is one, and it would have the relay deliver to the host it names.
func HostDomain(address string) bool {
	a, ok := ASCIIDomain(address)
	if !ok {
		return false
	}
	domain := a[strings.LastIndexByte(a, '@')+1:]
	if domain == "" || len(domain) > 253 {
		return false
	}
	for label := range strings.SplitSeq(domain, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i] | 0x20; (c < 'a' || c > 'z') && (label[i] < '0' || label[i] > '9') && label[i] != '-' {
				return false
			}
		}
		if len(label) > 4 && strings.EqualFold(label[:4], "xn--") {
			if _, err := idna.Lookup.ToUnicode(label); err != nil {
				return false
			}
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// addressPattern matches what reads as an e-mail address in a server's reply: a local part of
// letters, digits and the atom characters of RFC 5322 (dots included), '@', and a domain.
var addressPattern = regexp.MustCompile("[\\p{L}\\p{N}!#$%&'*+/=?^_`{|}~.-]+@[\\p{L}\\p{N}-]+(?:\\.[\\p{L}\\p{N}-]+)*")

// maskAddressesIn is err with every e-mail address in its message masked as MaskEmail
// masks it but keep (the message's own Message-ID, which a relay's log can be searched
// for and which names no one). errors.Is and errors.As see err as it was.
func maskAddressesIn(err error, keep string) error {
	msg := err.Error()
	masked := addressPattern.ReplaceAllStringFunc(msg, func(a string) string {
		if a == keep {
			return a
		}
		return MaskEmail(a)
	})
	if masked == msg {
		return err
	}
	return provider.Retold(err, masked)
}

// messageID is a Message-ID with 160 random bits on the sender's domain: the host name, which
// go-mail would use, is a container's random name in most deployments.
func messageID(domain string) string {
	var b [20]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])) + "@" + domain
}
