package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider/builtin"
)

// TestEnrollInputRefusals: every enrollment refused for its input is ErrInput, which the
// admin API answers 400 invalid_field. Before, the question factor's checks and some of
// TOTP's and HOTP's were plain errors that lifecycle told from faults by their words:
// "question 2: asked twice" had none of them and was answered 503, "retry".
func TestEnrollInputRefusals(t *testing.T) {
	f := newEngineFixture(t, testdb.SQLite(t), nil)
	long := strings.Repeat("x", 1000)
	for _, c := range []struct {
		name   string
		in     builtin.Enrollment
		saying string
	}{
		{"totp digits", enrollment("totp", "alice", "digits", "7"), "digits must be 6 or 8, not 7"},
		{"totp digits not a number", enrollment("totp", "alice", "digits", "six"), "not a number"},
		{"totp algorithm", enrollment("totp", "alice", "algorithm", "MD5"), "unknown algorithm"},
		{"totp seed not base32", enrollment("totp", "alice", "secret", "not base32!"), "not valid base32"},
		{"totp seed short", enrollment("totp", "alice", "secret", "JBSWY3DP"), "at least 128"},
		{"totp period", enrollment("totp", "alice", "period", "5"), "period must be between 10 and 300"},
		{"hotp counter", enrollment("hotp", "alice", "counter", "-1"), "counter must not be negative"},
		{"hotp digits", enrollment("hotp", "alice", "digits", "9"), "digits must be 6 or 8"},
		{"question asked twice", enrollment("question", "alice", "question", "First pet?", "answer", "rex", "question", "first  PET?", "answer", "max"), "question 2: asked twice"},
		{"question too long", enrollment("question", "alice", "question", long, "answer", "rex"), "question 1: between 1 and"},
		{"question empty", enrollment("question", "alice", "question", "  ", "answer", "rex"), "question 1: between 1 and"},
		{"answer empty", enrollment("question", "alice", "question", "First pet?", "answer", " "), "answer 1: between 1 and"},
		{"too many questions", enrollment("question", "alice", manyQuestions(21)...), "questions, not 21"},
		{"unpaired answers", enrollment("question", "alice", "question", "q1"), "come in pairs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.engine.Enroll(context.Background(), c.in)
			if !errors.Is(err, builtin.ErrInput) || !strings.Contains(err.Error(), c.saying) {
				t.Errorf("Enroll: %v; want ErrInput saying %q", err, c.saying)
			}
		})
	}
}

// manyQuestions is n question and answer pairs, as enrollment takes them.
func manyQuestions(n int) []string {
	var kv []string
	for i := range n {
		kv = append(kv, "question", fmt.Sprintf("question %d?", i), "answer", "a")
	}
	return kv
}
