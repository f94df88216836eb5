package main

import (
	"strings"
	"testing"
)

// holdsSecret reports whether text holds secret. One of 12 bytes or more counts anywhere;
// a shorter one, a 6-digit code say, only as a word of its own, with no ASCII letter or
// digit either side: a log or a record also holds random text (hex request ids,
// transaction ids, UUIDs, the nanoseconds of its timestamps), and a given 6-digit code
// turns up inside such a run about once in a million, failing a test by chance. A code
// logged as a value ("918273", code=918273, /otp/918273/verify, a body quoted in a JSON
// string) is still found.
func holdsSecret(text, secret string) bool {
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

// TestReviewHoldsSecret: holdsSecret finds a short code logged as a value, however it is
// quoted, and not the same digits inside a random id or a timestamp.
func TestReviewHoldsSecret(t *testing.T) {
	for _, c := range []struct {
		text string
		want bool
	}{
		{`{"passvalue":"918273"}`, true},
		{`code=918273 user=alice`, true},
		{`POST /v1/otp/918273/verify`, true},
		{`"body":"{\"passvalue\":\"918273\"}"`, true},
		{`"err":"quoted:\n918273"`, true},
		{`918273`, true},
		{`"time":"2026-01-01T00:00:00.918273412Z"`, false},
		{`"time":"2026-01-01T00:00:00.412918273Z"`, false},
		{`"request_id":"9182735f0c1d2e3f4a5b6c7d"`, false},
		{`"request_id":"a1b2c3d4e5f6a7b8c9918273"`, false},
		{`"txid":"9254c129-fae9-4b79-ab70-e147918273ec"`, false},
		{`"total":19182730`, false},
	} {
		if got := holdsSecret(c.text, "918273"); got != c.want {
			t.Errorf("holdsSecret(%s, 918273) = %v, want %v", c.text, got, c.want)
		}
	}
	if !holdsSecret("x-sim-password-0123y", "sim-password-0123") {
		t.Error("a long secret inside a longer word is not found")
	}
}
