package adapter

import (
	"strings"
	"testing"
	"time"
)

// TestVerifyTimeNotation: a notification's time is epoch milliseconds
// (verify-contract.md §13), a JSON number: 1.7e12, 1700000000000.0 and 1.7E+12 are the
// same number as 1700000000000, in another notation (a serializer of doubles writes
// them so), and were refused "time is not epoch milliseconds", which they are; the
// notification, refused, was lost. They are read as that instant now. A fraction of a
// millisecond (perhaps seconds with a fraction, which read as milliseconds would date
// the event in 1970) and one out of range are still refused, each saying which it is.
func TestVerifyTimeNotation(t *testing.T) {
	h := newSyncHarness(t)
	note := func(id, user, tm string) string {
		return `{"id":"` + id + `","event_type":"management","time":` + tm +
			`,"data":{"resource":"user","action":"created","username":"` + user + `"}}`
	}
	want := time.UnixMilli(1700000000000).UTC()
	for i, tm := range []string{`1.7e12`, `1700000000000.0`, `1.7E+12`, `"1.7e12"`, `17000000000000e-1`} {
		if code, out, _ := h.do("POST", VerifyPath, note("n"+itoa(i), "u", tm), "X-Verify-Secret", testSecret); code != 204 {
			t.Errorf("time %s: %d %v, want 204", tm, code, out)
		}
		p, err := parseVerify(parseCtx(), []byte(note("n", "u", tm)))
		if err != nil || len(p.events) != 1 || !p.events[0].Time.Equal(want) {
			t.Errorf("time %s: %+v %v, want one event at %v", tm, p.events, err, want)
		}
	}
	for tm, why := range map[string]string{
		`1700000000000.5`:     "time is not a whole number of epoch milliseconds",
		`1700000000.123`:      "time is not a whole number of epoch milliseconds",
		`1e-400`:              "time is not a whole number of epoch milliseconds",
		`-1`:                  "time is out of range",
		`-1.7e12`:             "time is out of range",
		`1e30`:                "time is out of range",
		`1e400`:               "time is out of range",
		`9223372036854775808`: "time is out of range",
		`"abc"`:               "time is not a number of epoch milliseconds",
		`{}`:                  "time is not a number of epoch milliseconds",
	} {
		code, out, _ := h.do("POST", VerifyPath, note("bad", "x", tm), "X-Verify-Secret", testSecret)
		if msg, _ := out["messageDescription"].(string); code != 400 || !strings.HasPrefix(msg, why) {
			t.Errorf("time %s: %d %v, want 400 saying %q", tm, code, out, why)
		}
	}
}

// TestWholeNumber: wholeNumber reads a JSON number exactly, where a float
// rounds: a fraction too small for a float, or past its precision, is still a fraction,
// and an exponent of any size is read without writing its digits out.
func TestWholeNumber(t *testing.T) {
	for _, tc := range []struct {
		num            string
		v              int64
		whole, inRange bool
	}{
		{"0", 0, true, true}, {"-0", 0, true, true}, {"-0.0e-7", 0, true, true}, {"0e99999999999999999999", 0, true, true},
		{"1700000000000", 1700000000000, true, true}, {"1.7e12", 1700000000000, true, true}, {"1.7E+12", 1700000000000, true, true},
		{"17000000000000e-1", 1700000000000, true, true}, {"1700000000000.000", 1700000000000, true, true},
		{"9223372036854775807", 9223372036854775807, true, true}, {"1e18", 1e18, true, true},
		{"1700000000000.0000001", 0, false, false}, {"1e-400", 0, false, false}, {"1.5", 0, false, false},
		{"1e-99999999999999999999", 0, false, false}, {"-1.5", 0, false, false},
		{"9223372036854775808", 0, true, false}, {"1e19", 0, true, false}, {"1e400", 0, true, false},
		{"1e99999999999999999999", 0, true, false}, {"-1", 0, true, false}, {"-1.7e12", 0, true, false},
	} {
		v, whole, inRange := wholeNumber(tc.num)
		if whole != tc.whole || inRange != tc.inRange || (inRange && v != tc.v) {
			t.Errorf("%s: %d whole %v in range %v, want %d %v %v", tc.num, v, whole, inRange, tc.v, tc.whole, tc.inRange)
		}
	}
}
