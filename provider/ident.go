package provider

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the identifiers Verify sends. Every store keeps them as text, and PostgreSQL
// refuses what SQLite accepts (a NUL is SQLSTATE 22021), so one rule is applied before any
// engine or store sees a value: valid UTF-8, no control character, at most this many bytes.
// A value outside the rule cannot name anything emfa keeps, so it is answered like an
// unknown one ([] or FAILED) — on every store alike — and audited.
const (
	MaxUsernameBytes      = 256
	MaxFactorIDBytes      = 128
	MaxCapabilityBytes    = 128 // the prefix included ("acme:totp")
	MaxTransactionIDBytes = 256 // a vendor's id may be long
)

// Audit and log bounds: a value recorded about a refused request is cut to these.
const (
	maxReasonBytes = 512
	truncMarker    = "…[truncated]"
)

// NewID returns an unguessable identifier: 128 random bits, lower-case base32 (26
// characters). Every engine's transactionId is one (contract §5, emfa's rule), whoever
// carries the challenge: a vendor's own id never reaches Verify.
func NewID() string {
	b := make([]byte, 16)
	rand.Read(b) // never returns an error (crypto/rand, Go 1.24+)
	return idEncoding.EncodeToString(b)
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// CheckIdentifier returns why s cannot be the identifier field names (at most limit
// bytes of valid UTF-8 without control characters), or "" when it can.
func CheckIdentifier(field, s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("%s is longer than %d bytes", field, limit)
	}
	if printableASCII(s) {
		return "" // what nearly every name and id is: valid, and no control character
	}
	if !utf8.ValidString(s) {
		return field + " is not valid UTF-8"
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return field + " contains a control character"
	}
	return ""
}

// printableASCII reports whether every byte of s is printable ASCII (' ' to '~'): such
// a string is valid UTF-8 with no control character, told by one pass over its bytes
// where the two checks decode it twice (~1k instructions for "alice", four identifiers
// a contract call).
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// CheckUsername is CheckIdentifier for a user name.
func CheckUsername(name string) string {
	return CheckIdentifier("username", name, MaxUsernameBytes)
}

// invalid returns why req's identifiers break the rule, or "".
func (req Request) invalid() string {
	for _, c := range []struct {
		field, value string
		limit        int
	}{
		{"username", req.Username, MaxUsernameBytes},
		{"capability", req.Capability, MaxCapabilityBytes},
		{"id", req.ID, MaxFactorIDBytes},
		{"transactionId", req.TransactionID, MaxTransactionIDBytes},
	} {
		if why := CheckIdentifier(c.field, c.value, c.limit); why != "" {
			return why
		}
	}
	return ""
}

// unseen reports whether r hides or reorders the text it is in rather than showing: a
// format character (Unicode category Cf: the bidirectional controls U+202A-U+202E,
// U+2066-U+2069, U+200E, U+200F, U+061C; U+200B-U+200D, U+2060, U+FEFF...) or a line or
// paragraph separator (U+2028, U+2029), which a log reader may break the line at.
func unseen(r rune) bool {
	return r >= 0x80 && (unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029')
}

// RefuseEnrollments audits an enrollment lookup refused at the edge (a user name outside
// the rule) and returns its answer, the empty list an unknown user gets. req names the
// user, the request's ID and Verify's X-Webhook-ID, which the audit row keeps as every
// call's does.
func (p *Provider) RefuseEnrollments(ctx context.Context, req Request, reason string) []Enrollment {
	ctx, o := p.observe(ctx, ResourceEnrollments, "") // answered [] like any enrollments
	defer o.end(statusListed, nil)
	out := Failed(reason)
	p.log(ctx, ResourceEnrollments, req, out)
	if p.Audit != nil {
		// The answer is [] whatever happens here; a lost row must be visible, not fatal.
		actx, cancel := Detach(ctx)
		defer cancel()
		if err := p.Audit.AppendAudit(actx, p.event(ResourceEnrollments, req, out)); err != nil {
			if p.Observer != nil {
				p.Observer.StoreError("audit") // emfa_store_errors_total{operation="audit"}
			}
			if p.Log != nil {
				p.Log.Error("audit write", "provider", p.CredentialPrefix, "resource", ResourceEnrollments, "err", err)
			}
		}
	}
	return []Enrollment{}
}

// Printable returns s as it may go into a log line or an audit row: invalid bytes and
// control characters escaped (\x00, \u0085), and so are the characters that hide or
// reorder text (unseen): bidirectional controls and other format characters (\u202e,
// \u200b) and line separators (\u2028); cut to limit bytes with a marker when longer.
// "alice" and "alice" with a ZERO WIDTH SPACE read apart, and no U+202E turns the rest
// of a line around. A value that already keeps the rule comes back unchanged.
func Printable(s string, limit int) string {
	if len(s) <= limit && CheckIdentifier("", s, limit) == "" && (printableASCII(s) || !strings.ContainsFunc(s, unseen)) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		var piece string
		switch {
		case r == utf8.RuneError && size <= 1:
			piece = fmt.Sprintf(`\x%02x`, s[i])
		case unicode.IsControl(r) && r < 0x100:
			piece = fmt.Sprintf(`\x%02x`, r)
		case unicode.IsControl(r), unseen(r):
			piece = fmt.Sprintf(`\u%04x`, r)
		default:
			piece = s[i : i+size]
		}
		if b.Len()+len(piece) > limit {
			b.WriteString(truncMarker)
			break
		}
		b.WriteString(piece)
		i += size
	}
	return b.String()
}

// UnescapeUnseen is s with each \uXXXX that Printable writes for a character
// that hides or reorders text (a format character, U+2028, U+2029) turned back into the
// character; other text, and an escape of any other character, is left as it is. Printable
// writes at least four hex digits, five or six past U+FFFF: the shortest that is such a
// character is taken (no four-digit prefix of one past U+FFFF is one).
func UnescapeUnseen(s string) string {
	if !strings.Contains(s, `\u`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], `\u`) {
			if r, n := unseenEscape(s[i+2:]); n > 0 {
				b.WriteRune(r)
				i += 2 + n
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// unseenEscape reads the hex digits after a \u at the start of s: the character they
// write and how many they are, or 0 when no four to six of them write one that hides or
// reorders text.
func unseenEscape(s string) (rune, int) {
	for n := 4; n <= 6 && n <= len(s); n++ {
		v, err := strconv.ParseUint(s[:n], 16, 32)
		if err != nil {
			return 0, 0
		}
		if r := rune(v); unseen(r) {
			return r, n
		}
	}
	return 0, 0
}
