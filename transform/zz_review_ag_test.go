package transform

import (
	"context"
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
