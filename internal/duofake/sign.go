package duofake

import (
	"crypto/subtle"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/emfa/emfa/internal/duosign"
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
	canon := duosign.Canonical(date, r.Method, r.Host, r.URL.Path, params)
	want := duosign.Signature(s.opts.SecretKey, canon)
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
