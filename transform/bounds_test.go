package transform

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
)

// A time zone a transform reads from its input (a user's attribute) is a variable's value:
// cel-go's message for one it cannot load names it unquoted ("unknown time zone …", or
// "timezone offset hours out of range …: …"), and the error reached the log.
func TestTimeZoneErrorHidesTheValue(t *testing.T) {
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
func TestDynamicConcatenationIsCharged(t *testing.T) {
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

// A CEL list or map may be referenced from many places of a result at the cost of one
// reference each: body.items.map(x, body.items) costs n units to evaluate and is n² JSON
// values, and body.items.map(x, body.text) is n copies of the text once sent. The
// conversion to JSON (Eval, Value.Interface: the outgoing body, the answer's attributes)
// built all of it, bounded by nothing: an input of a few kilobytes made gigabytes.
func TestResultConversionIsBounded(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 1100) // 1100² JSON values, over the bound of 2^20
	for i := range items {
		items[i] = int64(i)
	}
	body := map[string]any{"items": items, "text": strings.Repeat("x", 64<<10)}
	for _, src := range []string{
		`{"body": body.items.map(x, body.items)}`,
		`{"body": body.items.map(x, body.text)}`, // 1100 × 64 KiB, over 64 MiB
	} {
		prg, err := Compile(env, src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prg.Eval(context.Background(), Vars{VarBody: body}); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("Eval(%s) = %v, want a result too large", src, err)
		}
		v, err := prg.EvalValue(context.Background(), Vars{VarBody: body})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Interface(); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("EvalValue(%s).Interface() = %v, want a result too large", src, err)
		}
	}
	// A result as large as an input, and a few references to it, convert.
	prg, err := Compile(env, `{"body": {"a": body, "b": body, "c": body.items.map(x, x)}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prg.Eval(context.Background(), Vars{VarBody: body}); err != nil {
		t.Errorf("a result of three references to the input: %v", err)
	}
}

// joinStrings and jsonToFormURLEncoded build their result in one allocation, and cel-go
// charges a call after it returns: a list holding one input string many times (a
// comprehension's map costs one unit an element) made them allocate n copies of it before
// the cost limit could speak; jsonToFormURLEncoded's cost did not even count a list
// value's strings, so its result, however long, never met the limit.
func TestStringBuildersAreBounded(t *testing.T) {
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]any, 2000)
	for i := range items {
		items[i] = int64(i)
	}
	body := map[string]any{"items": items, "text": strings.Repeat("x", 20000)}
	for _, src := range []string{
		// 2000 × 20 kB: 40 MB in one call.
		`{"body": joinStrings(body.items.map(x, body.text), "").size()}`,
		`{"body": jsonToFormURLEncoded({"a": body.items.map(x, body.text)}, true).size()}`,
		// 60 calls of 600 kB each, 36 MB in all: 3.6 million units of string scanned.
		`{"body": body.items.filter(i, i < 60).map(i, jsonToFormURLEncoded({"a": body.items.filter(x, x < 60).map(x, body.text)}, true)).size()}`,
	} {
		prg, err := Compile(env, src)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = prg.Eval(context.Background(), Vars{VarBody: body})
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: no error, want the cost limit or a result too large", src)
		}
		// Under the race detector cel-go's String.Size allocates a copy of each string it
		// measures (len([]rune(s)) is not optimised there): the bound is this build's.
		if mb := (after.TotalAlloc - before.TotalAlloc) >> 20; mb > 16 && !raceEnabled {
			t.Errorf("%s: %d MB allocated before it failed (%v)", src, mb, err)
		}
	}
}
