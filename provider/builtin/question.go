package builtin

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/store"
)

// TypeQuestion is security questions: initiate asks one of the user's questions, validate
// checks the answer.
//
// Knowledge answers are not an authenticator under NIST SP 800-63B (§5.1.1.2 forbids
// prompting for "specific types of information", and §5.1 lists no knowledge-based
// authenticator): answers are guessable, researchable and shared. The engine serves the
// type only when question.enabled is set, for organisations that accept that.
const TypeQuestion = "question"

// questionSettings are the question section. Off unless Enabled.
type questionSettings struct {
	Enabled bool `mapstructure:"enabled"`
	// MaxAttempts is the number of answers tried per transaction.
	MaxAttempts int `mapstructure:"maxAttempts"`
	// Lifetime of a question's transaction.
	Lifetime time.Duration `mapstructure:"lifetime"`

	// argon2 hashes the answers of new enrollments: OWASP's recommended argon2id
	// parameters (19 MiB, 2 passes, 1 lane); tests lower them.
	argon2 Argon2Params
}

// Argon2Params are argon2id's cost parameters (RFC 9106).
type Argon2Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

func newQuestionSettings() Settings {
	return &questionSettings{MaxAttempts: 3, Lifetime: 5 * time.Minute, argon2: Argon2Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}}
}

func (s *questionSettings) Check(c *Checker) {
	if c.Exposed && !s.Enabled {
		c.Errorf("enabled", "the question capability needs question.enabled: true (security questions are not an authenticator under NIST SP 800-63B)")
	}
	if s.MaxAttempts < 1 {
		c.Errorf("maxAttempts", "must be at least 1, not %d", s.MaxAttempts)
	}
	if s.Lifetime <= 0 {
		c.Errorf("lifetime", "must be positive, not %s", s.Lifetime)
	}
}

func (s *questionSettings) Open(e *Engine) Factor { return &questionFactor{e: e, s: s} }

// ErrQuestionsDisabled refuses to enroll questions on an engine that does not serve them.
var ErrQuestionsDisabled = errors.New("security questions are disabled (question.enabled: false); they are not an authenticator under NIST SP 800-63B")

// Limits on what is enrolled.
const (
	maxQuestions      = 20
	maxQuestionLength = 300 // characters
	maxAnswerLength   = 200 // characters, after normalisation
)

// paramQuestions is the Params key holding the question texts (a JSON array): they are
// shown to whoever starts a challenge, so they are no secret.
const paramQuestions = "questions"

// paramAsking is the Params key of the question being asked (its index), kept until it is
// answered right.
const paramAsking = "asking"

// questionSecret is sealed in Factor.Secret: one argon2id hash per question, in the order
// of the questions, each with its own salt and the parameters it was made with (so they
// can be raised for new enrollments without breaking old ones).
type questionSecret struct {
	Answers []answerHash `json:"answers"`
}

type answerHash struct {
	Salt      []byte `json:"salt"`
	Hash      []byte `json:"hash"`
	Time      uint32 `json:"t"`
	MemoryKiB uint32 `json:"m"`
	Threads   uint8  `json:"p"`
}

// NormalizeAnswer is what is hashed of an answer, so that "  Main  Street" and "main
// street" match: Unicode NFKC (compatibility forms, so a full-width "Ａ" is an "A"),
// case-folded, NFKC again (folding can denormalise), runs of white space collapsed to one
// space, trimmed.
//
// Then what a phone's keyboard types for what a computer's has is read as the computer's
// (iOS makes ' a ’ and -- a — by default), and invisible format characters a paste
// carries along (a zero-width space, a soft hyphen) are dropped: "O’Brien" typed on a
// phone matches "O'Brien" enrolled at a desk.
func NormalizeAnswer(s string) string {
	s = strings.ReplaceAll(strings.Map(keyboardRune, legacyAnswer(s)), "\u2014", "--") // —
	return strings.Join(strings.Fields(s), " ")
}

// legacyAnswer is NormalizeAnswer as answers enrolled before keyboardRune were hashed:
// one typed with a smart quote or a zero-width character then still matches as typed.
func legacyAnswer(s string) string {
	s = norm.NFKC.String(s)
	s = cases.Fold().String(s) // a Caser is stateful: one per call
	s = norm.NFKC.String(s)
	return strings.Join(strings.Fields(s), " ")
}

// keyboardRune is r as a computer's keyboard types it, or -1 (dropped) for a format
// character. The em dash, a keyboard's "--", is two runes: NormalizeAnswer replaces it.
func keyboardRune(r rune) rune {
	switch r {
	case '\u2018', '\u2019', '\u201a', '\u201b', '\u2032', '\u02bc': // ‘ ’ ‚ ‛ ′ ʼ
		return '\''
	case '\u201c', '\u201d', '\u201e', '\u201f', '\u2033': // “ ” „ ‟ ″
		return '"'
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2212': // hyphens, en dash, minus
		return '-'
	}
	if unicode.Is(unicode.Cf, r) {
		return -1
	}
	return r
}

// questionFactor asks one of the factor's questions at random.
type questionFactor struct {
	e *Engine
	s *questionSettings
}

func (k *questionFactor) offered() bool { return k.s.Enabled }

// replayInput is the stand-in answer replay enrolls (the answer field's StandIn).
func (k *questionFactor) replayInput(*store.Factor) string      { return "${answer()}" }
func (*questionFactor) Flow() provider.Flow                     { return provider.FlowInitThenValidate }
func (*questionFactor) Attributes(*store.Factor) map[string]any { return nil }

func (*questionFactor) Fields() []Field {
	return []Field{
		{Name: "question", Meta: "Q", Kind: FieldList, Required: true, Usage: "a question (repeat, each followed by its --answer)"},
		{Name: "answer", Meta: "A", Kind: FieldList, Secret: true, StandIn: "redacted answer", Usage: "the answer to the question before it"},
		{Name: "name", Meta: "LABEL", Usage: "label shown to the user (default Security questions)"},
	}
}

// Recorded keeps every question; their answers are never recorded.
func (*questionFactor) Recorded(f *store.Factor) url.Values {
	qs, _ := Questions(f)
	answers := make([]string, len(qs))
	for i := range answers {
		answers[i] = Redacted
	}
	return url.Values{"question": qs, "answer": answers}
}

// Enroll creates an active question factor holding every question and answer pair: the
// questions in Params, the answers normalised and hashed with argon2id, the hashes
// sealed. A user has at most one question factor.
func (k *questionFactor) Enroll(ctx context.Context, u store.User, existing []store.Factor, in Enrollment) (Enrolled, error) {
	if !k.s.Enabled {
		return Enrolled{}, ErrQuestionsDisabled
	}
	qs, as := in.Values["question"], in.Values["answer"]
	if len(qs) == 0 || len(qs) != len(as) {
		return Enrolled{}, fmt.Errorf("%w: questions and answers must come in pairs, one answer to each question (got %d questions, %d answers)", ErrInput, len(qs), len(as))
	}
	if len(qs) > maxQuestions {
		return Enrolled{}, fmt.Errorf("%w: between 1 and %d questions, not %d", ErrInput, maxQuestions, len(qs))
	}
	questions := make([]string, len(qs))
	var secret questionSecret
	seen := map[string]bool{}
	for i := range qs {
		q := strings.Join(strings.Fields(qs[i]), " ")
		a := NormalizeAnswer(as[i])
		switch {
		case q == "" || utf8.RuneCountInString(q) > maxQuestionLength || !utf8.ValidString(q):
			return Enrolled{}, fmt.Errorf("%w: question %d: between 1 and %d characters of text", ErrInput, i+1, maxQuestionLength)
		case seen[NormalizeAnswer(q)]:
			return Enrolled{}, fmt.Errorf("%w: question %d: asked twice", ErrInput, i+1)
		case a == "" || utf8.RuneCountInString(a) > maxAnswerLength || !utf8.ValidString(as[i]):
			// The answer itself is never repeated in an error.
			return Enrolled{}, fmt.Errorf("%w: answer %d: between 1 and %d characters of text", ErrInput, i+1, maxAnswerLength)
		}
		seen[NormalizeAnswer(q)] = true
		questions[i] = q
		secret.Answers = append(secret.Answers, hashAnswer(k.s.argon2, a))
	}
	for _, f := range existing {
		if f.Type == TypeQuestion {
			return Enrolled{}, fmt.Errorf("%w: %s already has question factor %s (delete it to enroll new questions)", ErrDuplicate, u.Name, f.ID)
		}
	}
	text, _ := json.Marshal(questions)
	plain, _ := json.Marshal(secret)
	f := k.e.newFactor(u, TypeQuestion, cmp.Or(in.Values.Get("name"), "Security questions"), in)
	f.Params[paramQuestions] = string(text)
	if err := k.e.createSealed(ctx, in, &f, plain); err != nil {
		return Enrolled{}, err
	}
	return Enrolled{Factor: f, Output: map[string]any{"questions": questions}}, nil
}

// alike: a user has at most one question factor.
func (*questionFactor) alike() store.Alike { return store.Alike{Type: true} }

func hashAnswer(p Argon2Params, normalized string) answerHash {
	h := answerHash{Salt: make([]byte, 16), Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads}
	rand.Read(h.Salt)
	h.Hash = argon2.IDKey([]byte(normalized), h.Salt, p.Time, p.MemoryKiB, p.Threads, 32)
	return h
}

func (h answerHash) matches(normalized string) bool {
	got := argon2.IDKey([]byte(normalized), h.Salt, h.Time, h.MemoryKiB, h.Threads, uint32(len(h.Hash)))
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

// Questions returns the question texts of a question factor.
func Questions(f *store.Factor) ([]string, error) {
	var qs []string
	if err := json.Unmarshal([]byte(f.Params[paramQuestions]), &qs); err != nil || len(qs) == 0 {
		return nil, fmt.Errorf("factor %s: corrupt questions", f.ID)
	}
	return qs, nil
}

// questionData is what a question transaction keeps in Data: which question was asked.
type questionData struct {
	Question int `json:"q"`
}

func (k *questionFactor) Initiate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	e := k.e
	qs, err := Questions(f)
	if err != nil {
		return provider.Outcome{}, err
	}
	now := e.now()
	// The question stays until it is answered right: otherwise whoever knows one answer
	// of several could fail, or let the challenge expire, until that question comes up.
	idx, err := strconv.Atoi(f.Params[paramAsking])
	kept := err == nil && idx >= 0 && idx < len(qs)
	var params map[string]string
	if !kept {
		idx = randomIndex(len(qs))
		params = maps.Clone(f.Params)
		params[paramAsking] = strconv.Itoa(idx)
	}
	data, _ := json.Marshal(questionData{Question: idx})
	id := NewID()
	// The question asked, the challenge, the withdrawal of older ones and the record of
	// the decision are one unit.
	return provider.Decide(ctx, e.store, func(w store.Writer) (provider.Outcome, error) {
		// As a push's: of two initiates side by side, the later withdraws the earlier.
		if err := w.LockFactor(ctx, f.ID); err != nil {
			return provider.Outcome{}, err
		}
		if params != nil {
			if err := w.UpdateFactorParams(ctx, f.ID, nil, params, now); errors.Is(err, store.ErrNotFound) {
				// Deleted (a reset) since factorFor read it: as unknown as it is now.
				return provider.Failed("factor deleted meanwhile"), nil
			} else if err != nil {
				return provider.Outcome{}, err
			}
		}
		if err := e.challenges().In(w).Start(ctx, req, store.Transaction{ID: id, Data: data, ExpiresAt: now.Add(k.s.Lifetime)}); err != nil {
			return provider.Outcome{}, err
		}
		canceled, err := e.cancelOthers(ctx, w, f.ID, id)
		if err != nil {
			return provider.Outcome{}, err
		}
		reason := fmt.Sprintf("asked question %d of %d", idx+1, len(qs))
		if kept {
			reason += " (again: not yet answered right)"
		}
		if canceled > 0 {
			reason += fmt.Sprintf("; %d earlier challenge(s) canceled", canceled)
		}
		return provider.Outcome{
			Status: provider.StatusPending, TransactionID: id,
			Attributes: map[string]any{"question": qs[idx]}, Reason: reason,
		}, nil
	})
}

func (k *questionFactor) Validate(ctx context.Context, f *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.validate(ctx, f, req, nil)
}

// validate is Validate on the transaction read with f (Engine.validate), or, when read
// is nil, on the one answerChallenge reads.
func (k *questionFactor) validate(ctx context.Context, f *store.Factor, req provider.Request, read *store.Transaction) (provider.Outcome, error) {
	e := k.e
	out, err := e.answerChallenge(ctx, f, req, read, k.s.MaxAttempts, "answer", func(tx store.Transaction) (bool, error) {
		var d questionData
		if err := json.Unmarshal(tx.Data, &d); err != nil {
			return false, fmt.Errorf("transaction %s: corrupt question: %w", tx.ID, err)
		}
		plain, err := e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
		if err != nil {
			return false, fmt.Errorf("factor %s: %w", f.ID, err)
		}
		var s questionSecret
		if err := json.Unmarshal(plain, &s); err != nil || d.Question < 0 || d.Question >= len(s.Answers) {
			return false, fmt.Errorf("factor %s: corrupt answers", f.ID)
		}
		h := s.Answers[d.Question]
		n := NormalizeAnswer(req.Passvalue)
		if h.matches(n) {
			return true, nil
		}
		// An answer enrolled before smart quotes were read as the keyboard's was hashed
		// as typed: tried only when the answer has one, so a wrong answer costs one hash.
		legacy := legacyAnswer(req.Passvalue)
		return legacy != n && h.matches(legacy), nil
	})
	if err == nil && out.Status == provider.StatusSuccess {
		e.forgetAsked(ctx, f)
	}
	return out, err
}

// forgetAsked clears the question a factor answered right was asking, so that the next
// challenge draws one afresh. The answer stands if the write fails, as a success's
// clearFailures has it: its unit has committed it (the challenge SUCCESS, its record),
// and a fault answered over it had Verify retry into a challenge already used, FAILED.
// Left, the question is only asked again. A factor deleted since (a reset) has nothing
// to clear.
func (e *Engine) forgetAsked(ctx context.Context, f *store.Factor) {
	params := maps.Clone(f.Params)
	delete(params, paramAsking)
	dctx, cancel := provider.Detach(ctx)
	defer cancel()
	if err := e.store.UpdateFactorParams(dctx, f.ID, nil, params, e.now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		e.log.Warn("clearing the question a factor answered right was asking", "factor", f.ID, "err", err)
	}
}

func (k *questionFactor) Result(ctx context.Context, _ *store.Factor, req provider.Request) (provider.Outcome, error) {
	return k.e.challengeResult(ctx, req)
}

// randomIndex is uniform in [0, n) from crypto/rand.
func randomIndex(n int) int {
	limit := ^uint64(0) - ^uint64(0)%uint64(n) // largest multiple of n, for rejection
	var b [8]byte
	for {
		rand.Read(b[:])
		if v := binary.BigEndian.Uint64(b[:]); v < limit {
			return int(v % uint64(n))
		}
	}
}
