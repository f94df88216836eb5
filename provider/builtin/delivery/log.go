package delivery

import (
	"context"
	"fmt"
	"log/slog"
)

// Log "delivers" codes, and self-service activation links, by writing them to a log, for
// development without an SMTP server or an SMS account. It is the one place in emfa where a
// code or a link reaches a log, in clear: anyone who reads that log can pass the second
// factor of every user, or enroll one for them. Never configure it in production; each send
// says so at WARN level.
type Log struct {
	logger *slog.Logger
}

var _ Sender = (*Log)(nil)

// NewLog returns a development sender writing to logger (slog.Default() when nil).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{logger: logger}
}

// Kind is "log".
func (*Log) Kind() string { return "log" }

// Serves reports true for every channel.
func (*Log) Serves(c Channel) bool { return c == SMS || c == Email || c == Voice }

// Send logs the recipient, the user and the code at WARN level; a message without a code
// (an activation link's mail) with its subject and text instead, which hold the link, so
// that the developer can open it. (The HTML alternative says the same and is left out.)
func (l *Log) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("log: %w", err)
	}
	attrs := []slog.Attr{slog.String("to", m.To), slog.String("user", m.User)}
	msg := "DEVELOPMENT ONLY: one-time code written to the log instead of being delivered; never use the log sender in production"
	if m.Code != "" {
		attrs = append(attrs, slog.String("code", m.Code))
	} else {
		msg = "DEVELOPMENT ONLY: message (an activation link) written to the log instead of being delivered; never use the log sender in production"
		attrs = append(attrs, slog.String("subject", m.Subject), slog.String("text", m.Text))
	}
	l.logger.LogAttrs(ctx, slog.LevelWarn, msg, attrs...)
	return nil
}
