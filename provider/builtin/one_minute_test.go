package builtin_test

import (
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
)

// TestOneMinuteIsSingular: the default SMS and e-mail templates say "It expires
// in {{minutes}} minutes.", and a lifetime of a minute or less (lifetime takes 30s and
// up) sent every user "It expires in 1 minutes." The word after {{minutes}} agrees with
// it; other lifetimes, and a template's other words, are as written.
func TestOneMinuteIsSingular(t *testing.T) {
	for _, tc := range []struct{ lifetime, want, sms string }{
		{"30s", "It expires in 1 minute.", " expires in 1 minute; 1 minutesX, 1minutes, 1 minutes"},
		{"1m", "It expires in 1 minute.", " expires in 1 minute; 1 minutesX, 1minutes, 1 minutes"},
		{"61s", "It expires in 2 minutes.", " expires in 2 minutes; 2 minutesX, 2minutes, 1 minutes"},
		{"5m", "It expires in 5 minutes.", " expires in 5 minutes; 5 minutesX, 5minutes, 1 minutes"},
	} {
		t.Run(tc.lifetime, func(t *testing.T) {
			f := newEngineFixture(t, testdb.SQLite(t), func(c *engineConfig) {
				c.set("emailotp.lifetime", tc.lifetime)
				c.set("smsotp.lifetime", tc.lifetime)
				c.set("smsotp.template", "{{code}} expires in {{minutes}} minutes; {{minutes}} minutesX, {{minutes}}minutes, 1 minutes")
			})
			enrollAs(t, f, builtin.ActivationPasscode, "emailotp", "alice", "email", "alice@example.com")
			if got := f.email.last(t).Text; !strings.HasSuffix(got, tc.want) {
				t.Errorf("e-mail says %q, want it to end %q", got, tc.want)
			}
			// Only the word "minutes" right after the placeholder agrees with it.
			enrollAs(t, f, builtin.ActivationPasscode, "smsotp", "alice", "phone", "+15551230123")
			msg := f.sms.last(t)
			if want := msg.Code + tc.sms; msg.Text != want {
				t.Errorf("SMS says %q, want %q", msg.Text, want)
			}
		})
	}
}
