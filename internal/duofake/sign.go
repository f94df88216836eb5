package duofake

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// authenticate checks a request the way DUO checks v2 signatures. params are what was signed:
// the form body of a POST, the query of a GET.
func (s *Server) authenticate(r *http.Request, params url.Values) *response {
	dates := r.Header.Values("Date")
	if len(dates) != 1 {
		return unauthorized(40101, "Missing request credentials", "want exactly one Date header")
	}
	date := dates[0]
	// net/mail accepts RFC 5322 dates with or without weekday and seconds and with 2- or
	// 4-digit years, which covers both IBM's "02 Jan 06 15:04 -0700" and DUO's clients'
	// "Mon, 02 Jan 2006 15:04:05 -0700".
	when, err := mail.ParseDate(date)
	if err != nil {
		return unauthorized(40101, "Missing request credentials", "unparseable Date "+date)
	}
	ikey, sig, ok := r.BasicAuth()
	if !ok {
		return unauthorized(40101, "Missing request credentials", "no Basic Authorization")
	}
	if subtle.ConstantTimeCompare([]byte(ikey), []byte(s.opts.IntegrationKey)) != 1 {
		return unauthorized(40102, "Invalid integration key in request credentials", "wrong integration key")
	}
	canon := canonical(date, r.Method, r.Host, r.URL.Path, params)
	want := signature(s.opts.SecretKey, canon)
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		return unauthorized(40103, "Invalid signature in request credentials",
			"signature mismatch; the fake signed "+strings.ReplaceAll(canon, "\n", `\n`))
	}
	skew := s.opts.Clock().Sub(when).Abs()
	if skew > s.opts.MaxSkew {
		return unauthorized(40101, "Missing request credentials", "Date "+date+" is "+skew.String()+" from the server clock")
	}
	return nil
}

// canonical is DUO's v2 string to sign.
func canonical(date, method, host, path string, params url.Values) string {
	return strings.Join([]string{
		date,
		strings.ToUpper(method),
		strings.ToLower(host),
		path,
		encodeParams(params),
	}, "\n")
}

// signature is the lower-case hex HMAC-SHA1 of canon keyed by secret.
func signature(secret, canon string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(canon))
	return hex.EncodeToString(mac.Sum(nil))
}

// encodeParams sorts by key, then by value, and percent-encodes per RFC 3986.
func encodeParams(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := slices.Clone(params[k])
		slices.Sort(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k))
			b.WriteByte('=')
			b.WriteString(escape(v))
		}
	}
	return b.String()
}

// escape keeps RFC 3986 unreserved bytes and writes every other byte as upper-case %XX, so a
// space is %20, never +.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&0xf])
		}
	}
	return b.String()
}

// Canonical is DUO's v2 string to sign (date, method, host, path, sorted RFC 3986 params,
// joined by newlines), for fakes of DUO's other APIs that sign the same way (duoadminfake).
func Canonical(date, method, host, path string, params url.Values) string {
	return canonical(date, method, host, path, params)
}
