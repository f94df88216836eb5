package config

import "testing"

// TestIsBaseURL: a base URL is one paths are appended to and others call: selfService's
// publicURL (links in mail), push's serverURL (phones), emfa verify's --url and --tenant
// (Verify). A port outside 1-65535 or left empty, white space, or an IPv6 zone (an
// interface of this machine) passed url.Parse and were written into links and webhooks
// no one could call; `emfa check` now refuses them where they are configured.
func TestIsBaseURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://emfa.example.com":          true,
		"https://emfa.example.com/":         true,
		"https://emfa.example.com:8443/mfa": true,
		"http://[2001:db8::1]:8080":         true,
		"https://emfa.example.com:65535":    true,
		"https://emfa.example.com:0":        false,
		"https://emfa.example.com:65536":    false,
		"https://emfa.example.com:99999":    false,
		"https://emfa.example.com:":         false,
		"https://emfa.example.com/a b":      false,
		"https://emfa.example.com/a\tb":     false,
		"http://[fe80::1%25eth0]:8080":      false,
		"https://emfa.example.com?x=1":      false,
		"https://emfa.example.com#f":        false,
		"https://u:p@emfa.example.com":      false,
		"ftp://emfa.example.com":            false,
		"emfa.example.com":                  false,
	} {
		if got := IsBaseURL(s); got != want {
			t.Errorf("IsBaseURL(%q) = %v, want %v", s, got, want)
		}
	}
}
