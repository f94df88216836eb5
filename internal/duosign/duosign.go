// Package duosign is DUO's v2 request signing, written from DUO's Auth API documentation
// (shared/verify/duo-auth-api.md): the string to sign, its HMAC-SHA1, and a signed request
// as DUO's own clients send one. The fakes of DUO's APIs check signatures with it and the
// benchmark's bare mediator signs with it. emfa itself signs through IBM's CEL transform,
// and the tests of that transform keep an oracle of their own.
package duosign

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// DateLayout is the RFC 2822 date DUO's own clients send.
const DateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// Canonical is DUO's v2 string to sign: date, method, host, path and the parameters, one
// per line.
func Canonical(date, method, host, path string, params url.Values) string {
	return strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, EncodeParams(params)}, "\n")
}

// Signature is the lower-case hex HMAC-SHA1 of canon keyed by the secret key.
func Signature(skey, canon string) string {
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(canon))
	return hex.EncodeToString(mac.Sum(nil))
}

// EncodeParams sorts by key, then by value, and percent-encodes per RFC 3986.
func EncodeParams(params url.Values) string {
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

// Request builds a signed DUO call to base plus path: params go in the form body of a POST
// and in the query of a GET, exactly as signed.
func Request(base *url.URL, ikey, skey, method, path string, params url.Values, now time.Time) (*http.Request, error) {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	encoded := EncodeParams(params)
	var body *strings.Reader
	if method == http.MethodGet {
		u.RawQuery = encoded
		body = strings.NewReader("")
	} else {
		body = strings.NewReader(encoded)
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	date := now.Format(DateLayout)
	sig := Signature(skey, Canonical(date, method, u.Host, u.Path, params))
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig)))
	return req, nil
}
