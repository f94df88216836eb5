package main

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

// DUO's v2 request signing, written by hand from DUO's Auth API documentation
// (shared/verify/duo-auth-api.md): no CEL, no library. The bare mediator and the
// direct-to-stub scenario sign with it; the stub checks with it.

// duoDateLayout is the RFC 2822 date DUO's own clients send.
const duoDateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

// duoCanonical is the string DUO signs: date, method, host, path and the parameters,
// one per line.
func duoCanonical(date, method, host, path string, params url.Values) string {
	return strings.Join([]string{date, strings.ToUpper(method), strings.ToLower(host), path, duoParams(params)}, "\n")
}

// duoSignature is the lower-case hex HMAC-SHA1 of canon keyed by the secret key.
func duoSignature(skey, canon string) string {
	mac := hmac.New(sha1.New, []byte(skey))
	mac.Write([]byte(canon))
	return hex.EncodeToString(mac.Sum(nil))
}

// duoParams sorts by key (then value) and percent-encodes per RFC 3986, a space as %20.
func duoParams(params url.Values) string {
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
			b.WriteString(duoEscape(k))
			b.WriteByte('=')
			b.WriteString(duoEscape(v))
		}
	}
	return b.String()
}

func duoEscape(s string) string {
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

// duoRequest builds a signed DUO call: params go in the form body of a POST and in the
// query of a GET, exactly as signed.
func duoRequest(base *url.URL, ikey, skey, method, path string, params url.Values, now time.Time) (*http.Request, error) {
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + path
	encoded := duoParams(params)
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
	date := now.Format(duoDateLayout)
	sig := duoSignature(skey, duoCanonical(date, method, u.Host, u.Path, params))
	req.Header.Set("Date", date)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig)))
	return req, nil
}
