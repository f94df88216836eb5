package builtin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/emfa/emfa/provider/builtin"
)

// TestMailDomainIsAHostName: an e-mail factor's domain with an ASCII name was
// taken as written: "alice@-example.com", "alice@exa_mple.com" (no host name has either,
// RFC 5321's Domain is letters, digits and inner hyphens) and the address literal
// "alice@[127.0.0.1]" enrolled, and an import or the admin API stored factors no code
// could reach, or one that had the SMTP relay deliver to a host of the caller's choosing.
// They are refused as a non-ASCII domain IDNA refuses is; real domains still enroll.
func TestMailDomainIsAHostName(t *testing.T) {
	for _, bad := range []string{
		"alice@-example.com", "alice@example-.com", "alice@exa_mple.com", "alice@mail.-x.example",
		"alice@[127.0.0.1]", "alice@[IPv6:::1]", "alice@" + strings.Repeat("a", 64) + ".example",
		"alice@xn--zz.example",
	} {
		if got, err := builtin.NormalizeDestination("emailotp", bad); !errors.Is(err, builtin.ErrInvalidDestination) {
			t.Errorf("%q: stored as %q (%v), want ErrInvalidDestination", bad, got, err)
		}
	}
	for _, good := range []string{
		"alice@example.com", "alice@Mail.Example.COM", "alice@a-b.example", "alice@123.example",
		"alice@xn--bcher-kva.example", "alice@bücher.example", "alice@" + strings.Repeat("a", 63) + ".example",
		"alice@localhost",
	} {
		if _, err := builtin.NormalizeDestination("emailotp", good); err != nil {
			t.Errorf("%q: %v, want it enrolled", good, err)
		}
	}
}
