// Package secretscan tells whether a test's log, audit or recording holds a secret, without
// failing by chance on random text that happens to contain a short code's digits.
package secretscan

import "strings"

// Holds reports whether text holds secret. One of 12 bytes or more counts anywhere;
// a shorter one, a 6-digit code say, only as a word of its own, with no ASCII letter or
// digit either side: a log or a record also holds random text (hex request ids,
// transaction ids, UUIDs, the nanoseconds of its timestamps), and a given 6-digit code
// turns up inside such a run about once in a million, failing a test by chance. A code
// logged as a value ("918273", code=918273, /otp/918273/verify, a body quoted in a JSON
// string) is still found.
func Holds(text, secret string) bool {
	if len(secret) >= 12 || secret == "" {
		return strings.Contains(text, secret)
	}
	for from := 0; ; {
		i := strings.Index(text[from:], secret)
		if i < 0 {
			return false
		}
		i += from
		end := i + len(secret)
		before := !isAlnum(secret[0]) || i == 0 || !isAlnum(text[i-1]) ||
			i >= 2 && text[i-2] == '\\' && strings.IndexByte("nrtbf", text[i-1]) >= 0 // after an escape: "\n918273"
		after := !isAlnum(secret[len(secret)-1]) || end == len(text) || !isAlnum(text[end])
		if before && after {
			return true
		}
		from = i + 1
	}
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}
