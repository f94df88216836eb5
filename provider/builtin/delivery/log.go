package delivery

import (
	"context"
	"fmt"
	"log/slog"
)

// Log "delivers" codes by writing them to a log, for development without an SMTP server or
// an SMS account. It is the one place in emfa where a code reaches a log, in clear: anyone who
// reads that log can pass the second factor of every user. Never configure it in production;
// each send says so at WARN level.
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

// Send logs the recipient, the user and the code at WARN level.
func (l *Log) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("log: %w", err)
	}
	l.logger.LogAttrs(ctx, slog.LevelWarn,
		"DEVELOPMENT ONLY: one-time code written to the log instead of being delivered; never use the log sender in production",
		slog.String("to", m.To),
		slog.String("user", m.User),
		slog.String("code", m.Code),
	)
	return nil
}
