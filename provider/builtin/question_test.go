package builtin_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

func TestNormalizeAnswer(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Main Street", "main street"},
		{"  main \t\n  STREET  ", "main street"},
		{"Ｍａｉｎ　Ｓｔｒｅｅｔ", "main street"}, // full-width letters and ideographic space (NFKC)
		{"Straße", "strasse"},          // full case folding
		{"ﬁsh", "fish"},                // a ligature (NFKC)
		{"Cafe\u0301", "café"},         // combining accent composed
		{"ΣΊΣΥΦΟΣ", "σίσυφοσ"},         // final sigma folds like any sigma
		{"   ", ""},
		// What phones type for what a keyboard has: a smart quote or dash, a zero-width
		// character a paste carried along.
		{"O\u2019Brien", "o'brien"},
		{"\u201cRex\u201d", "\"rex\""},
		{"Saint\u2011Denis", "saint-denis"},
		{"Saint\u2013Denis", "saint-denis"},
		{"a\u2014b", "a--b"},
		{"Re\u200bx\ufeff", "rex"},
		{"Ma\u00adin", "main"},
	}
	for _, c := range cases {
		if got := builtin.NormalizeAnswer(c.in); got != c.want {
			t.Errorf("NormalizeAnswer(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// qa is one question and its answer, as an administrator enrolls it.
type qa struct{ Question, Answer string }

// questionEnrollment enrolls pairs, in order, for user.
func questionEnrollment(user string, pairs []qa) builtin.Enrollment {
	var nv []string
	for _, p := range pairs {
		nv = append(nv, "question", p.Question, "answer", p.Answer)
	}
	return enrollment(builtin.TypeQuestion, user, nv...)
}

var questionPairs = []qa{
	{Question: "What was the name of your first pet?", Answer: "Rex"},
	{Question: "In which city were you born?", Answer: "São Paulo"},
	{Question: "What was your first car?", Answer: "Fiat  Panda"},
}

// answers are questionPairs' answers as a user might type them, by question.
var answers = map[string]string{
	"What was the name of your first pet?": " REX ",
	"In which city were you born?":         "sao paulo", // wrong: the accent matters
	"What was your first car?":             "fiat panda",
}

func (f *engineFixture) enrollQuestions(t testing.TB, user string) string {
	t.Helper()
	enrolled, err := f.engine.Enroll(context.Background(), questionEnrollment(user, questionPairs))
	if err != nil {
		t.Fatal(err)
	}
	return enrolled.Factor.ID
}

func TestQuestionFlow(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		id := f.enrollQuestions(t, "alice")
		stored, _ := st.GetFactor(ctx, id)
		for _, p := range questionPairs {
			if bytes.Contains(stored.Secret, []byte(p.Answer)) || bytes.Contains(stored.Secret, []byte(builtin.NormalizeAnswer(p.Answer))) {
				t.Fatal("an answer is stored in clear")
			}
		}
		if qs, err := builtin.Questions(&stored); err != nil || len(qs) != 3 || qs[2] != "What was your first car?" {
			t.Fatalf("questions: %q %v", qs, err)
		}
		list, _ := f.engine.Enrollments(ctx, "alice")
		if len(list) != 1 || list[0].Capability != "question" || list[0].Attributes["authExecutionFlow"] != "init_then_validate" ||
			list[0].Attributes["deviceName"] != "Security questions" {
			t.Fatalf("enrollments: %+v", list)
		}

		seen := map[string]bool{}
		for range 30 {
			out := f.initiate(t, "alice", "question", id)
			q, _ := out.Attributes["question"].(string)
			if out.Status != provider.StatusPending || out.TransactionID == "" || q == "" {
				t.Fatalf("initiate: %+v", out)
			}
			seen[q] = true
			expect(t, "result", f.result(t, "alice", "question", id, out.TransactionID), provider.StatusPending, "")
			answer := answers[q]
			if q == "In which city were you born?" {
				expect(t, "wrong answer", f.validate(t, "alice", "question", id, out.TransactionID, answer), provider.StatusFailed, "wrong answer (attempt 1 of 3)")
				answer = "SÃO  PAULO"
			}
			expect(t, "answer to "+q, f.validate(t, "alice", "question", id, out.TransactionID, answer), provider.StatusSuccess, "right answer")
			expect(t, "replay", f.validate(t, "alice", "question", id, out.TransactionID, answer), provider.StatusFailed, "already SUCCESS")
		}
		if len(seen) != 3 {
			t.Errorf("30 challenges asked only %d distinct questions", len(seen))
		}
	})
}

// The question stays until answered right: re-initiating, failing or letting it expire
// does not draw another one.
func TestQuestionStaysUntilAnswered(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("question.maxAttempts", 1) })
		id := f.enrollQuestions(t, "alice")
		first := f.initiate(t, "alice", "question", id)
		q := first.Attributes["question"]
		for i := range 12 {
			out := f.initiate(t, "alice", "question", id)
			expect(t, "reinitiate", out, provider.StatusPending, "again: not yet answered right")
			if out.Attributes["question"] != q {
				t.Fatalf("the question changed from %q to %q", q, out.Attributes["question"])
			}
			switch i % 3 {
			case 0:
				expect(t, "wrong", f.validate(t, "alice", "question", id, out.TransactionID, "nope"), provider.StatusFailed, "transaction failed")
			case 1:
				f.clock.Advance(5 * time.Minute)
			}
			f.store.ResetFailures(context.Background(), id, f.clock.Now())
		}
		expect(t, "the first transaction", f.result(t, "alice", "question", id, first.TransactionID), provider.StatusCanceled, "")
		out := f.initiate(t, "alice", "question", id)
		right := answers[q.(string)]
		if strings.HasPrefix(q.(string), "In which city") {
			right = "São Paulo"
		}
		expect(t, "answered", f.validate(t, "alice", "question", id, out.TransactionID, right), provider.StatusSuccess, "")
		expect(t, "afresh", f.initiate(t, "alice", "question", id), provider.StatusPending, "asked question")
		if fac, _ := st.GetFactor(context.Background(), id); fac.Params["asking"] == "" {
			t.Error("no question kept for the new challenge")
		}
	})
}

func TestQuestionAttemptsAndLockout(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) {
			c.set("question.maxAttempts", 2)
			c.set("lockout.maxFailures", 3)
		})
		id := f.enrollQuestions(t, "alice")
		out := f.initiate(t, "alice", "question", id)
		q := out.Attributes["question"].(string)
		expect(t, "first wrong", f.validate(t, "alice", "question", id, out.TransactionID, "nope"), provider.StatusFailed, "attempt 1 of 2")
		expect(t, "second wrong", f.validate(t, "alice", "question", id, out.TransactionID, "nope"), provider.StatusFailed, "attempt 2 of 2); transaction failed")
		right := answers[q]
		if strings.HasPrefix(q, "In which city") {
			right = "São Paulo"
		}
		expect(t, "right, too late", f.validate(t, "alice", "question", id, out.TransactionID, right), provider.StatusFailed, "already FAILED")
		out = f.initiate(t, "alice", "question", id)
		expect(t, "third wrong locks", f.validate(t, "alice", "question", id, out.TransactionID, "nope"), provider.StatusFailed, "locked until")
		expect(t, "locked", f.initiate(t, "alice", "question", id), provider.StatusFailed, "locked until")
	})
}

func TestQuestionExpiry(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, func(c *engineConfig) { c.set("question.lifetime", time.Minute) })
		id := f.enrollQuestions(t, "alice")
		out := f.initiate(t, "alice", "question", id)
		f.clock.Advance(time.Minute)
		expect(t, "expired", f.validate(t, "alice", "question", id, out.TransactionID, "x"), provider.StatusTimeout, "")
	})
}

func TestQuestionConcurrentAnswers(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		id := f.enrollQuestions(t, "alice")
		out := f.initiate(t, "alice", "question", id)
		answer := answers[out.Attributes["question"].(string)]
		if strings.HasPrefix(out.Attributes["question"].(string), "In which city") {
			answer = "são paulo"
		}
		var wg sync.WaitGroup
		var successes atomic.Int32
		for range 20 {
			wg.Go(func() {
				o, err := f.engine.Validate(context.Background(), provider.Request{
					Capability: "question", ID: id, TransactionID: out.TransactionID, Username: "alice", Passvalue: answer,
				})
				if err != nil {
					t.Error(err)
				}
				if o.Status == provider.StatusSuccess {
					successes.Add(1)
				}
			})
		}
		wg.Wait()
		if n := successes.Load(); n != 1 {
			t.Fatalf("%d successes, want exactly 1", n)
		}
	})
}

func TestEnrollQuestionsRefusals(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		f := newEngineFixture(t, st, nil)
		ctx := context.Background()
		cases := []struct {
			name  string
			pairs []qa
			want  string
		}{
			{"none", nil, "pairs"},
			{"empty question", []qa{{Question: "  ", Answer: "x"}}, "question 1"},
			{"empty answer", []qa{{Question: "Q?", Answer: " \t "}}, "answer 1"},
			{"asked twice", []qa{{Question: "Q?", Answer: "a"}, {Question: " q? ", Answer: "b"}}, "question 2: asked twice"},
		}
		for _, c := range cases {
			_, err := f.engine.Enroll(ctx, questionEnrollment("alice", c.pairs))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: %v, want %q", c.name, err, c.want)
			}
		}
		f.enrollQuestions(t, "alice")
		if _, err := f.engine.Enroll(ctx, questionEnrollment("alice", questionPairs)); !errors.Is(err, builtin.ErrDuplicate) {
			t.Errorf("second question factor: %v", err)
		}
		list, _ := st.ListFactors(ctx, "u-alice")
		if len(list) != 1 {
			t.Errorf("%d factors", len(list))
		}
	})
}

func TestQuestionsDisabled(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		enabled := newEngineFixture(t, st, nil)
		id := enabled.enrollQuestions(t, "alice")
		disabled := &engineFixture{store: st, clock: enabled.clock}
		disabled.engine = newEngine(t, st, enabled.clock.Now, &engineConfig{section: map[string]any{}})
		if _, err := disabled.engine.Enroll(context.Background(), questionEnrollment("bob", questionPairs)); !errors.Is(err, builtin.ErrQuestionsDisabled) {
			t.Errorf("enroll: %v", err)
		}
		if list, _ := disabled.engine.Enrollments(context.Background(), "alice"); len(list) != 0 {
			t.Errorf("listed: %+v", list)
		}
		expect(t, "initiate", disabled.initiate(t, "alice", "question", id), provider.StatusFailed, "does not serve factor type question")
	})
}

// renamesFirst is a store on which a rename of factor id commits just before the next
// UpdateFactorParams: an admin's rename between an engine's read of the factor and its
// write of the factor's params.
type renamesFirst struct {
	store.Store
	rename func()
}

func (s *renamesFirst) UpdateFactorParams(ctx context.Context, id string, label *string, params map[string]string, now time.Time) error {
	if f := s.rename; f != nil {
		s.rename = nil
		f()
	}
	return s.Store.UpdateFactorParams(ctx, id, label, params, now)
}

// A right answer clears the question being asked from the factor's params, and only
// that: a rename committed since the factor was read stays (before, the label read was
// written back with the params).
func TestQuestionAnswerKeepsARenameMeanwhile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		hooked := &renamesFirst{Store: st}
		f := newEngineFixture(t, hooked, nil)
		id := f.enrollQuestions(t, "alice")
		out := f.initiate(t, "alice", "question", id)
		q, _ := out.Attributes["question"].(string)
		hooked.rename = func() {
			errs := st.ApplyUserChanges(ctx, []store.UserChange{{Name: "alice", Now: f.clock.Now(),
				UpdateFactors: []store.FactorUpdate{{ID: id, Label: "renamed", LabelOnly: true}}}})
			if errs[0] != nil {
				t.Fatal(errs[0])
			}
		}
		answer := answers[q]
		if q == "In which city were you born?" {
			answer = "SÃO  PAULO"
		}
		expect(t, "answer", f.validate(t, "alice", "question", id, out.TransactionID, answer), provider.StatusSuccess, "right answer")
		if hooked.rename != nil {
			t.Fatal("the right answer wrote no params")
		}
		got, err := st.GetFactor(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Label != "renamed" {
			t.Errorf("label %q after a rename made while the answer was decided; want renamed", got.Label)
		}
	})
}

// TestQuestionAnswerTypedOnAPhone: an answer enrolled with a keyboard's apostrophe matches
// the same answer typed on a phone whose keyboard makes it a smart quote (iOS does by
// default), and the reverse; an answer enrolled before smart quotes were read as the
// keyboard's still matches as it was typed then (LegacyAnswerHash).
func TestQuestionAnswerTypedOnAPhone(t *testing.T) {
	st := testdb.SQLite(t)
	f := newEngineFixture(t, st, nil)
	ctx := context.Background()
	enrolled, err := f.engine.Enroll(ctx, questionEnrollment("alice", []qa{{Question: "Your first teacher?", Answer: "Mrs O'Brien"}}))
	if err != nil {
		t.Fatal(err)
	}
	id := enrolled.Factor.ID
	for _, typed := range []string{"mrs o\u2019brien", "Mrs O'Brien", "MRS O\u2018BRIEN\u200b"} {
		out := f.initiate(t, "alice", "question", id)
		expect(t, typed, f.validate(t, "alice", "question", id, out.TransactionID, typed), provider.StatusSuccess, "right answer")
	}

	// Bob's answer was hashed as the normalisation before this one kept it: the smart
	// quote as typed.
	enrolled, err = f.engine.Enroll(ctx, questionEnrollment("bob", []qa{{Question: "Your first teacher?", Answer: "x"}}))
	if err != nil {
		t.Fatal(err)
	}
	builtin.SetAnswerHash(t, f.engine, st, enrolled.Factor.ID, 0, "mrs o\u2019brien")
	out := f.initiate(t, "bob", "question", enrolled.Factor.ID)
	expect(t, "bob, as enrolled", f.validate(t, "bob", "question", enrolled.Factor.ID, out.TransactionID, "Mrs O\u2019Brien"), provider.StatusSuccess, "right answer")
}
