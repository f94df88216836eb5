package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/builtin/delivery"
	"github.com/emfa/emfa/store"
)

func init() {
	factorAdders[builtin.TypeHOTP] = addHOTP
	factorAdders[builtin.TypeSMSOTP] = addSMSOTP
	factorAdders[builtin.TypeEmailOTP] = addEmailOTP
	factorAdders[builtin.TypeQuestion] = addQuestion
}

// codeEngine is the engine whose settings a new factor of capability takes: the first
// builtin provider exposing it, else the first builtin provider (factors may be
// provisioned before a provider offers them).
func (e *env) codeEngine(capability string) (*builtin.Engine, error) {
	for _, p := range e.cfg.Providers {
		if p.Engine == config.EngineBuiltin && slices.ContainsFunc(p.Capabilities, func(c string) bool {
			return strings.EqualFold(c, capability)
		}) {
			return e.builtinEngine(p)
		}
	}
	return e.enrollmentEngine()
}

// addHOTP imports or generates an HOTP seed and prints the factor with its otpauth URI.
func addHOTP(fs *flag.FlagSet) addFunc {
	sf := declareSeedFlags(fs)
	counter := fs.Int64("counter", 0, "the token's next counter value")
	return func(ctx context.Context, e *env, user string, stdout io.Writer) error {
		seed, alg, err := sf.parse()
		if err != nil {
			return err
		}
		spec := builtin.HOTPSpec{Secret: seed, Algorithm: alg, Digits: *sf.digits, Counter: *counter, Label: *sf.label}
		engine, err := e.codeEngine(builtin.TypeHOTP)
		if err != nil {
			return err
		}
		enrolled, err := engine.EnrollHOTP(ctx, user, spec)
		if err != nil {
			return userErr(user, err)
		}
		f := enrolled.Factor
		return printJSON(stdout, map[string]any{
			"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State,
			"algorithm": f.Params["algorithm"], "digits": f.Params["digits"], "counter": f.Counter + 1,
			"secret": enrolled.Secret, "otpauthURI": enrolled.OTPAuthURI,
		})
	}
}

// addSMSOTP enrolls a phone number for SMS codes.
func addSMSOTP(fs *flag.FlagSet) addFunc {
	phone := fs.String("phone", "", "the phone number, E.164 (+15551230123)")
	label := fs.String("name", "", "label shown to the user (default Mobile)")
	return func(ctx context.Context, e *env, user string, stdout io.Writer) error {
		if *phone == "" {
			return usageError{"factors add smsotp needs --phone"}
		}
		engine, err := e.codeEngine(builtin.TypeSMSOTP)
		if err != nil {
			return err
		}
		f, err := engine.EnrollSMSOTP(ctx, user, *phone, *label)
		if err != nil {
			return userErr(user, err)
		}
		return printJSON(stdout, map[string]any{
			"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State,
			"phone": *phone, "deliveryAddress": delivery.MaskPhone(*phone),
		})
	}
}

// addEmailOTP enrolls an e-mail address for e-mailed codes.
func addEmailOTP(fs *flag.FlagSet) addFunc {
	address := fs.String("email", "", "the e-mail address")
	label := fs.String("name", "", "label shown to the user (default E-mail)")
	return func(ctx context.Context, e *env, user string, stdout io.Writer) error {
		if *address == "" {
			return usageError{"factors add emailotp needs --email"}
		}
		engine, err := e.codeEngine(builtin.TypeEmailOTP)
		if err != nil {
			return err
		}
		f, err := engine.EnrollEmailOTP(ctx, user, *address, *label)
		if err != nil {
			return userErr(user, err)
		}
		to := f.Params["email"]
		return printJSON(stdout, map[string]any{
			"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State,
			"email": to, "deliveryAddress": delivery.MaskEmail(to),
		})
	}
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// addQuestion enrolls one factor holding every --question/--answer pair, in order.
func addQuestion(fs *flag.FlagSet) addFunc {
	var questions, answers stringList
	fs.Var(&questions, "question", "a question (repeat, each followed by its --answer)")
	fs.Var(&answers, "answer", "the answer to the question before it")
	label := fs.String("name", "", "label shown to the user (default Security questions)")
	return func(ctx context.Context, e *env, user string, stdout io.Writer) error {
		if len(questions) == 0 || len(questions) != len(answers) {
			return usageError{fmt.Sprintf("factors add question needs --question Q --answer A pairs (got %d questions, %d answers)", len(questions), len(answers))}
		}
		pairs := make([]builtin.QA, len(questions))
		for i := range questions {
			pairs[i] = builtin.QA{Question: questions[i], Answer: answers[i]}
		}
		engine, err := e.codeEngine(builtin.TypeQuestion)
		if err != nil {
			return err
		}
		f, err := engine.EnrollQuestions(ctx, user, pairs, *label)
		if err != nil {
			return userErr(user, err)
		}
		qs, err := builtin.Questions(&f)
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{
			"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State, "questions": qs,
		})
	}
}

// resyncFactor is `emfa factors resync ID CODE1 CODE2`: an HOTP token that has run ahead
// of the look-ahead window is found again from two consecutive codes.
func resyncFactor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("factors resync", flag.ContinueOnError)
	return withEnv(ctx, fs, args, stderr, func(e *env, rest []string) error {
		if len(rest) != 3 {
			return usageError{"factors resync needs ID CODE1 CODE2 (two consecutive codes of the token)"}
		}
		id := rest[0]
		engine, err := e.codeEngine(builtin.TypeHOTP)
		if err != nil {
			return err
		}
		next, err := engine.ResyncHOTP(ctx, id, rest[1], rest[2])
		ev := store.AuditEvent{Time: e.now(), FactorID: id, Capability: builtin.TypeHOTP, Resource: "factors resync", Outcome: "SUCCESS"}
		if err != nil {
			ev.Outcome, ev.Reason = "FAILED", err.Error()
		}
		if aerr := e.store.AppendAudit(ctx, ev); aerr != nil {
			return errors.Join(err, aerr)
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("no factor %q", id)
		case err != nil:
			return err
		}
		fmt.Fprintf(stdout, "resynchronised factor %s: the token's next counter is %d\n", id, next)
		return nil
	})
}
