package adapter

import (
	"net/http"
	"strings"
	"testing"
)

// TestSecretEqual: a secret compares equal to itself alone, whatever its
// length (none, short, at and around secretRoom, far past it) and whatever is sent: a
// prefix, the secret with a byte more (a zero byte too, which the padding holds), one
// byte changed at either end, the empty string, and anything longer than the room.
func TestSecretEqual(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 64, 127, 128, 129, 300} {
		want := ""
		if n > 0 {
			want = "a" + strings.Repeat("s", n-1)
		}
		k := newSecret(want)
		sent := []string{want, "", want + "\x00", "\x00" + want, want + "s", strings.Repeat("x", secretRoom+1),
			want + strings.Repeat("\x00", secretRoom+1-n%secretRoom)}
		if n > 0 {
			sent = append(sent, want[:n-1], "b"+want[1:], want[:n-1]+"\x00", want[:n-1]+"t")
		}
		for _, got := range sent {
			wantEq := 0
			if got == want {
				wantEq = 1
			}
			if eq := secretEqual(&k, got); eq != wantEq {
				t.Errorf("secret of %d bytes, sent %d bytes %q…: %d, want %d", n, len(got), got[:min(len(got), 8)], eq, wantEq)
			}
			if eq := secretEqual(&k, []byte(got)); eq != wantEq {
				t.Errorf("secret of %d bytes, sent %d bytes as []byte: %d, want %d", n, len(got), eq, wantEq)
			}
		}
	}
}

// TestBasicAndHeaderSecrets: through check, the Basic user and password and
// the header secret are admitted when right, each alone, and refused when any one is
// wrong, for secrets within the room and past it.
func TestBasicAndHeaderSecrets(t *testing.T) {
	for _, pw := range []string{"pw-secret-0123456", strings.Repeat("p", secretRoom), strings.Repeat("q", secretRoom+40)} {
		a := newAuthenticator(Auth{BasicUsername: "verify", BasicPassword: pw, HeaderName: "X-Api-Key", HeaderValue: pw + "-h"})
		for _, c := range []struct {
			user, pass, header string
			ok                 bool
		}{
			{"verify", pw, "", true}, {"verify", pw + "x", "", false}, {"verify", pw[:len(pw)-1], "", false},
			{"verify\x00", pw, "", false}, {"verif", pw, "", false}, {"", pw, "", false}, {"verify", "", "", false},
			{"", "", pw + "-h", true}, {"", "", pw, false}, {"", "", pw + "-h\x00", false},
		} {
			req, _ := http.NewRequest("POST", "http://emfa.test/", nil)
			if c.user != "" || c.pass != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			if c.header != "" {
				req.Header.Set("X-Api-Key", c.header)
			}
			if ok, _, _ := a.check(req); ok != c.ok {
				t.Errorf("password of %d bytes, sent user %q, password of %d bytes, header of %d bytes: ok %v, want %v",
					len(pw), c.user, len(c.pass), len(c.header), ok, c.ok)
			}
		}
	}
}
