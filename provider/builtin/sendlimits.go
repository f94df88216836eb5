package builtin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// SendLimits bound the codes sent per user and per destination, against SMS pumping, toll
// fraud and mail bombing; every factor that sends a code reserves under them. A nil list
// takes the default (one per 30 s and ten per hour, Okta's and the OWASP cheat sheet's
// order of magnitude); an empty non-nil list sets no limit.
type SendLimits struct {
	PerUser        []store.SendLimit `mapstructure:"perUser"`
	PerDestination []store.SendLimit `mapstructure:"perDestination"`
}

var defaultSendLimits = []store.SendLimit{{Window: 30 * time.Second, Max: 1}, {Window: time.Hour, Max: 10}}

func (l SendLimits) withDefaults() SendLimits {
	if l.PerUser == nil {
		l.PerUser = defaultSendLimits
	}
	if l.PerDestination == nil {
		l.PerDestination = defaultSendLimits
	}
	return l
}

func (l SendLimits) check(at string, errs *config.Errors) {
	for name, list := range map[string][]store.SendLimit{"perUser": l.PerUser, "perDestination": l.PerDestination} {
		for i, r := range list {
			if r.Window <= 0 || r.Max < 1 {
				*errs = append(*errs, &config.FieldError{Path: fmt.Sprintf("%s.%s[%d]", at, name, i), Msg: "needs a positive window and max"})
			}
		}
	}
}

// Retention is the longest window any of the limits looks at: send records must be kept
// that long, or the limits stop holding.
func (l SendLimits) Retention() time.Duration {
	var longest time.Duration
	for _, r := range append(slices.Clone(l.PerUser), l.PerDestination...) {
		longest = max(longest, r.Window)
	}
	return longest
}

// SendRetention is how long the engine's send records must be kept.
func (e *Engine) SendRetention() time.Duration { return e.sendLimits.Retention() }

// SignInRetention is how long the self-service page's sign-in attempts, recorded with the
// send records, must be kept while the page is on: the longest of SignInLimits' windows.
func SignInRetention() time.Duration { return SendLimits{PerUser: SignInLimits}.Retention() }

// SignInLimits bound the self-service page's sign-in attempts per user name, recorded with
// the send records (ReserveSend) under SignInKey so that every replica counts them: five a
// quarter of an hour, ten an hour, twenty a day. Every code checked counts, right or
// wrong, reserved before it is checked so that parallel guesses cannot exceed them; a push
// sent counts too. They replace, for the page, the factor's lockout (ValidateSignIn), and
// are stricter than its default (ten a quarter of an hour): a 6-digit code is guessed at
// most twenty times a day, whoever asks.
var SignInLimits = []store.SendLimit{{Window: 15 * time.Minute, Max: 5}, {Window: time.Hour, Max: 10}, {Window: 24 * time.Hour, Max: 20}}

// SignInKey is the send-limit key of the page's sign-in attempts for a user name, one
// whatever the case it is typed in (store.FoldName), for a name no one has alike.
func SignInKey(username string) string { return "signin:" + store.FoldName(username) }

// destinationKey is the send-limit key of a destination: one phone number counts once
// whichever factor (SMS or voice call) sends to it.
func destinationKey(to string) string { return "to:" + to }

// reserveSend records one send for the user and the destination if the limits allow it.
// A refusal is the FAILED outcome to answer with, and when the limits would allow a send
// again (Outcome.RetryAt). When both lists are the same (the
// default) one atomic reservation covers both keys, so a refusal records nothing;
// otherwise the user's limits are reserved first, and a refusal by the destination's
// leaves the user's reservation counted, which errs toward sending less.
func (e *Engine) reserveSend(ctx context.Context, w store.Writer, username, to, masked string, now time.Time) (provider.Outcome, error) {
	// One count per user, whatever the case of the name the request gave (store.FoldName).
	userKey, toKey := "user:"+store.FoldName(username), destinationKey(to)
	type reservation struct {
		keys   []string
		limits []store.SendLimit
		who    string
	}
	var steps []reservation
	if slices.Equal(e.sendLimits.PerUser, e.sendLimits.PerDestination) {
		steps = []reservation{{[]string{userKey, toKey}, e.sendLimits.PerUser, "user " + username + " or destination " + masked}}
	} else {
		steps = []reservation{
			{[]string{userKey}, e.sendLimits.PerUser, "user " + username},
			{[]string{toKey}, e.sendLimits.PerDestination, "destination " + masked},
		}
	}
	for _, r := range steps {
		if len(r.limits) == 0 {
			continue
		}
		err := w.ReserveSend(ctx, r.keys, r.limits, now)
		if errors.Is(err, store.ErrRateLimited) {
			out := provider.Failed("send limit reached for " + r.who + "; nothing sent")
			if rl := (*store.RateLimitError)(nil); errors.As(err, &rl) && !rl.RetryAt.IsZero() {
				out.RetryAt = rl.RetryAt
			}
			return out, nil
		}
		if err != nil {
			return provider.Outcome{}, err
		}
	}
	return provider.Outcome{}, nil
}
