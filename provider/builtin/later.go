package builtin

import (
	"context"

	"github.com/emfa/emfa/provider"
)

// Later holds what an Initiate run under WithLater left to do: the delivery of its
// challenge (a code's message, a push's notification) and what follows it (a code's
// second unit: the older codes withdrawn, or the challenge failed when the send did).
// The self-service page's sign-in answers before it runs, so that the time of its
// answer does not tell a name with a factor (a mail server's round trip) from one
// without (none).
type Later struct {
	deliver func(context.Context) (provider.Outcome, error)
}

type laterKey struct{}

// WithLater marks ctx: an Initiate under it starts its challenge (limits reserved, the
// transaction stored, in its first unit, as ever) and answers PENDING with the
// challenge's id, leaving its delivery to l.Run.
func WithLater(ctx context.Context, l *Later) context.Context {
	return context.WithValue(ctx, laterKey{}, l)
}

func laterOf(ctx context.Context) *Later { l, _ := ctx.Value(laterKey{}).(*Later); return l }

// Run delivers what the Initiate left, and answers its outcome as the Initiate would
// have (a code sent, or FAILED by a send that failed); ok false when it left nothing.
func (l *Later) Run(ctx context.Context) (out provider.Outcome, ok bool, err error) {
	if l == nil || l.deliver == nil {
		return provider.Outcome{}, false, nil
	}
	d := l.deliver
	l.deliver = nil
	out, err = d(ctx)
	return out, true, err
}

// defer leaves deliver to the Later of ctx, if it has one: it reports whether it did.
func deferDelivery(ctx context.Context, deliver func(context.Context) (provider.Outcome, error)) bool {
	l := laterOf(ctx)
	if l == nil {
		return false
	}
	l.deliver = deliver
	return true
}
