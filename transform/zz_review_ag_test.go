package transform

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// A time zone a transform reads from its input (a user's attribute) is a variable's value:
// cel-go's message for one it cannot load names it unquoted ("unknown time zone …", or
// "timezone offset hours out of range …: …"), and the error reached the log.
func TestReviewTimeZoneErrorHidesTheValue(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	const secret = "s3cr3t-Zone"
	for _, tc := range []struct{ src, tz string }{
		{`{"body": {"h": now.getHours(body.tz)}}`, secret},
		{`{"body": {"h": now.getDayOfWeek(body.tz)}}`, secret + "/x"},
		{`{"body": {"h": now.getMinutes(body.tz)}}`, "+99:00"},
		{`{"body": {"h": now.getMinutes(body.tz)}}`, "+01:99"},
	} {
		prg, err := Compile(env, tc.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = prg.Eval(context.Background(), Vars{VarBody: map[string]any{"tz": tc.tz}, VarNow: fixedNow})
		if err == nil {
			t.Fatalf("%s with tz %q: no error", tc.src, tc.tz)
		}
		if strings.Contains(err.Error(), tc.tz) {
			t.Errorf("%s: error %q shows the time zone the transform was given", tc.src, err)
		}
		if !strings.Contains(err.Error(), "<input>:1:") {
			t.Errorf("%s: error %q lost its position", tc.src, err)
		}
	}
}

// Concatenating two values of type dyn (what every field of body is) is dispatched at run
// time, with no overload id, and cel-go charged it one unit whatever the strings' length:
// a comprehension could concatenate a large input string once per element of an input
// list, building strings without limit while the cost limit, which bounds every other
// concatenation, never tripped.
func TestReviewDynamicConcatenationIsCharged(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 5000)
	for i := range items {
		items[i] = ""
	}
	big := strings.Repeat("x", 2000)
	body := map[string]any{"items": items, "s": big, "t": big}
	for _, src := range []string{
		`{"body": body.items.map(x, body.s + body.t).size()}`,
		`{"body": body.items.map(x, body.s + x).size()}`,
		// The same with the types known when compiled, which was always charged.
		`{"body": body.items.map(x, string(body.s) + string(body.t)).size()}`,
	} {
		prg, err := Compile(env, src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = prg.Eval(context.Background(), Vars{VarBody: body})
		if !errors.Is(err, ErrCostLimit) {
			t.Errorf("%s: %v, want the cost limit (5000 concatenations of 2000-byte strings)", src, err)
		}
	}
	// A transform of ordinary size is not affected.
	prg, err := Compile(env, `{"body": body.items.map(x, body.s + body.t).size()}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := prg.Eval(context.Background(), Vars{VarBody: map[string]any{"items": items[:100], "s": "a", "t": big}})
	if err != nil || out["body"] != int64(100) {
		t.Errorf("100 concatenations: %v, %v", out, err)
	}
}
