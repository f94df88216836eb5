package provider

import (
	"errors"
	"net/url"
	"strings"
)

// LogSafe is err as a log, an audit reason or a queue's note may say it: every URL that a
// *url.Error in its chain quotes (net/http's errors repeat the whole of it, an OAuth
// token endpoint's included) keeps its scheme, host and path, without user info, query
// or fragment, where a transform or a configuration may have put a key. errors.Is and
// errors.As see err as it was.
func LogSafe(err error) error {
	if err == nil {
		return nil
	}
	msg, changed := err.Error(), false
	for e := err; ; {
		var uerr *url.Error
		if !errors.As(e, &uerr) {
			break
		}
		if safe := SafeURL(uerr.URL); safe != uerr.URL {
			msg, changed = strings.ReplaceAll(msg, uerr.URL, safe), true
		}
		e = uerr.Err
	}
	if !changed {
		return err
	}
	return Retold(err, msg)
}

// Retold is err with msg, made fit for a log, as its message; errors.Is and errors.As
// see err as it was.
func Retold(err error, msg string) error { return &logSafeError{msg: msg, err: err} }

type logSafeError struct {
	msg string
	err error
}

func (e *logSafeError) Error() string { return e.msg }
func (e *logSafeError) Unwrap() error { return e.err }

// SafeURL is raw with only its scheme, host and path: a transform may build a path with
// a "?" in it (sent escaped, as %3F), so the path ends at the first one too.
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Not a URL url.Parse reads: keep what comes before any user info or query.
		raw, _, _ = strings.Cut(raw, "?")
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "//"); j >= 0 && j < i {
				raw = raw[:j+2] + raw[i+1:]
			}
		}
		return raw
	}
	return SafeTarget(u)
}

// SafeTarget is u as SafeURL says it.
func SafeTarget(u *url.URL) string {
	path, _, _ := strings.Cut(u.Path, "?")
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path}).String()
}
