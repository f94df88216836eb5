package transform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types/ref"
	"github.com/google/go-cmp/cmp"
)

func TestNewEnv(t *testing.T) {
	t.Parallel()
	for _, dir := range []Direction{Outgoing, Incoming} {
		if _, err := NewEnv(dir); err != nil {
			t.Errorf("NewEnv(%s): %v", dir, err)
		}
	}
	if _, err := NewEnv("sideways"); err == nil {
		t.Error("NewEnv(sideways) succeeded")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	out, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	in, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	tight, err := NewEnv(Incoming, WithMaxEstimatedCost(1000))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  *Env
		src  string
		want []string // substrings of the error
	}{
		{"syntax", out, `{"body": body,`, []string{"<input>:1:15", "Syntax error"}},
		{"syntax second line", out, "{\n  \"body\": body +}", []string{"<input>:2:17"}},
		{"undeclared", out, `{"body": bdy}`, []string{"<input>:1:10", "undeclared reference to 'bdy'"}},
		{"incoming has no now", in, `{"body": now}`, []string{"undeclared reference to 'now'"}},
		{"outgoing has no status_code", out, `{"body": status_code}`, []string{"undeclared reference to 'status_code'"}},
		{"wrong argument type", out, `{"body": hmacSha1(1, "k")}`, []string{"<input>:1:18", "no matching overload"}},
		{"result string", out, `"text"`, []string{"<input>:1:1", "result is string, want a map"}},
		{"result int", in, `status_code + 1`, []string{"result is int, want a map"}},
		{"result list", in, `[body]`, []string{"result is list(dyn), want a map"}},
		{"over a tight ceiling", tight, `{"body": body.devices.map(d, d.capabilities.map(c, c))}`,
			[]string{"<input>:1:1", "exceeds the limit 1000"}},
		{"nil env", nil, `{}`, []string{"nil environment"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Compile(tc.env, tc.src)
			if err == nil {
				t.Fatalf("Compile(%s) succeeded", tc.src)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Compile(%s) = %v, want it to contain %q", tc.src, err, w)
				}
			}
		})
	}
}

func TestCompileAcceptsMapsAndDyn(t *testing.T) {
	t.Parallel()
	in, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{`{}`, `body`, `request`, `{"body": body}`, `status_code == 200 ? {"body": 1} : {"body": 2}`} {
		prg, err := Compile(in, src)
		if err != nil {
			t.Errorf("Compile(%s): %v", src, err)
			continue
		}
		if lo, hi := prg.CostEstimate(); lo > hi || hi == 0 {
			t.Errorf("Compile(%s).CostEstimate() = %d, %d", src, lo, hi)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-Value"
	cases := []struct {
		name string
		opts []Option
		src  string
		body any
		ctx  func() (context.Context, context.CancelFunc)
		is   error    // errors.Is target, if any
		want []string // substrings of the error
	}{
		{name: "missing key", src: `{"body": body.nope}`, body: map[string]any{},
			want: []string{"<input>:1:14", "no such key: nope"}},
		{name: "missing key from the input", src: `{"body": {"a": 1}[body.secret]}`, body: map[string]any{"secret": secret},
			want: []string{"no such key: (a key the transform does not name; not shown)"}},
		{name: "wrong type", src: `{"body": body.n + 1}`, body: map[string]any{"n": "x"},
			want: []string{"no such overload"}},
		{name: "division by zero", src: `{"body": 1 / body.n}`, body: map[string]any{"n": int64(0)},
			want: []string{"division by zero"}},
		{name: "value not echoed", src: `{"body": int(body.secret)}`, body: map[string]any{"secret": secret},
			want: []string{"<input>:1:13"}},
		{name: "timestamp value not echoed", src: `{"body": timestamp(body.secret)}`, body: map[string]any{"secret": secret},
			want: []string{"<input>:1:19"}},
		{name: "not a map at run time", src: `body`, body: []any{int64(1)}, want: []string{"result is list, want a map"}},
		{name: "result not JSON", src: `{"body": 1.0 / 0.0}`, body: map[string]any{},
			want: []string{"key \"body\": double is not a finite number"}},
		{name: "cost limit", opts: []Option{WithCostLimit(10_000)},
			src:  `{"body": body.items.map(x, body.items.map(y, x + y))}`,
			body: map[string]any{"items": intList(1000)}, is: ErrCostLimit, want: []string{"cost limit exceeded"}},
		{name: "deadline already passed", src: `{"body": body}`, body: map[string]any{},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithDeadline(context.Background(), time.Unix(0, 0))
			},
			is: context.DeadlineExceeded},
		{name: "deadline during evaluation", opts: []Option{WithCostLimit(1 << 62)},
			src:  `{"body": body.items.map(x, body.items.filter(y, y > x).size())}`,
			body: map[string]any{"items": intList(20_000)},
			ctx: func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 20*time.Millisecond)
			},
			is: context.DeadlineExceeded},
		{name: "cancelled", src: `{"body": body}`, body: map[string]any{},
			ctx: func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			},
			is: context.Canceled},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, err := NewEnv(Incoming, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			prg, err := Compile(env, tc.src)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if tc.ctx != nil {
				ctx, cancel = tc.ctx()
			}
			defer cancel()
			out, err := prg.Eval(ctx, Vars{"body": tc.body})
			if err == nil {
				t.Fatalf("Eval(%s) = %v, want an error", tc.src, out)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Eval(%s) = %v, want errors.Is %v", tc.src, err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Eval(%s) = %v, want it to contain %q", tc.src, err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Eval(%s) = %v, which shows a variable's value", tc.src, err)
			}
		})
	}
}

func intList(n int) []any {
	l := make([]any, n)
	for i := range l {
		l[i] = int64(i)
	}
	return l
}

// TestEvalPanicIsError checks the recover guard with a function that panics.
func TestEvalPanicIsError(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	ce, err := env.cel.Extend(cel.Function("boom",
		cel.Overload("boom", nil, cel.StringType, cel.FunctionBinding(func(...ref.Val) ref.Val {
			panic(fmt.Sprintf("secret %s", "s3cr3t"))
		}))))
	if err != nil {
		t.Fatal(err)
	}
	env = &Env{cel: ce, vars: env.vars, limits: env.limits}
	prg, err := Compile(env, `{"v": boom()}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prg.Eval(context.Background(), Vars{})
	if err == nil || !strings.Contains(err.Error(), "internal error") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Eval = %v, want an internal error without the panic's text", err)
	}
}

func TestNumbersRoundTrip(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	body, err := DecodeJSON([]byte(`{"count": 41, "ratio": 1.5, "big": 9007199254740993, "exp": 1e3,
		"nested": {"list": [1, 2.5, "x", true, null, {"deep": [[]]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"body": {"count": body.count + 1, "ratio": body.ratio * 2.0, "big": body.big + 1,
		"exp": body.exp, "nested": body.nested, "isInt": type(body.count) == int}}`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := prg.Eval(context.Background(), Vars{"body": body, "now": fixedNow})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"body": map[string]any{
		"count":  int64(42),
		"ratio":  3.0,
		"big":    int64(9007199254740994),
		"exp":    1000.0,
		"isInt":  true,
		"nested": map[string]any{"list": []any{int64(1), 2.5, "x", true, nil, map[string]any{"deep": []any{[]any{}}}}},
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Eval (-want +got):\n%s", diff)
	}
	js, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"body":{"big":9007199254740994,"count":42,"exp":1000,"isInt":true,` +
		`"nested":{"list":[1,2.5,"x",true,null,{"deep":[[]]}]},"ratio":3}}`
	if string(js) != wantJSON {
		t.Errorf("JSON = %s\nwant  %s", js, wantJSON)
	}
}

func TestResultConversion(t *testing.T) {
	t.Parallel()
	runExprCases(t, []exprCase{
		{name: "bytes", expr: `b"\x00\xff"`, want: "AP8="},
		{name: "timestamp", expr: `timestamp("2024-03-05T07:08:09.5Z")`, want: "2024-03-05T07:08:09.5Z"},
		{name: "now", expr: `now`, want: "2024-03-05T07:08:09Z"},
		{name: "duration", expr: `duration("1m30.5s")`, want: "90.5s"},
		{name: "uint", expr: `7u`, want: uint64(7)},
		{name: "null", expr: `null`, want: nil},
		{name: "int keys", expr: `{1: "a", true: "b"}`, want: map[string]any{"1": "a", "true": "b"}},
		{name: "type value", expr: `type(1)`, wantErr: "has no JSON form"},
	})
}

func TestNowDefaultsToClockInUTC(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"now": now, "same": now == now}`)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().Add(-time.Second)
	out, err := prg.Eval(context.Background(), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := time.Parse(time.RFC3339Nano, out["now"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if got.Before(before) || got.After(time.Now().Add(time.Second)) || !strings.HasSuffix(out["now"].(string), "Z") {
		t.Errorf("now = %s, want the current time in UTC", out["now"])
	}
}

func TestMissingVariable(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"path": host + path}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prg.Eval(context.Background(), Vars{"path": "/x"})
	if err == nil || !strings.Contains(err.Error(), "host") {
		t.Errorf("Eval without host = %v, want an error naming host", err)
	}
}

func TestIncomingRequestHeader(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"body": {"h": request.header.put("x", "y"), "m": request.method, "s": status_code,
		"ct": header["Content-Type"][0]}}`)
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]any{"header": map[string][]string{"Accept": {"a"}}, "method": "POST"}
	out, err := prg.Eval(context.Background(), Vars{
		"request":     req,
		"status_code": 200,
		"header":      map[string][]string{"Content-Type": {"application/json"}},
		"body":        map[string]any{},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"body": map[string]any{
		"h":  map[string]any{"Accept": []any{"a"}, "x": []any{"y"}},
		"m":  "POST",
		"s":  int64(200),
		"ct": "application/json",
	}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("Eval (-want +got):\n%s", diff)
	}
	if _, ok := req["header"].(map[string][]string); !ok {
		t.Errorf("the caller's request map was modified: %#v", req)
	}
}

// An evaluation converts only the variables the transform reads (Uses): a caller may leave
// out the others, and one it passes anyway, even of a type that would not convert, is
// not looked at.
func TestUsesOnlyReadVariables(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"body": {"status": body.ok ? "SUCCESS" : "FAILED", "code": status_code}}`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"body": true, "status_code": true, "header": false, "request": false} {
		if got := prg.Uses(name); got != want {
			t.Errorf("Uses(%s) = %v, want %v", name, got, want)
		}
	}
	out, err := prg.Eval(context.Background(), Vars{"body": map[string]any{"ok": true}, "status_code": 200, "header": 42})
	if err != nil {
		t.Fatalf("an unread header of the wrong type: %v", err)
	}
	if diff := cmp.Diff(map[string]any{"body": map[string]any{"status": "SUCCESS", "code": int64(200)}}, out); diff != "" {
		t.Errorf("Eval (-want +got):\n%s", diff)
	}
	// Read, the same header is refused.
	reads, err := Compile(env, `{"body": {"n": size(header)}}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reads.Eval(context.Background(), Vars{"header": 42}); err == nil || !strings.Contains(err.Error(), "header variable") {
		t.Errorf("a read header of the wrong type: %v", err)
	}
}

// A small request is a record (requestToCEL), a larger one a CEL map: both read the same.
func TestIncomingRequestSizes(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"body": [request.method, size(request), "header" in request, "Method" in request,
		request.header.put("x", "y").x, request.map(k, k).sort(), request == request, has(request.extra)]}`)
	if err != nil {
		t.Fatal(err)
	}
	small := map[string]any{"header": map[string][]string{"Accept": {"a"}}, "method": "POST", "extra": 1}
	large := map[string]any{"header": map[string][]string{"Accept": {"a"}}, "method": "POST", "extra": 1,
		"a": 1, "b": 2, "c": 3, "d": 4}
	for name, tc := range map[string]struct {
		req  map[string]any
		keys []any
	}{
		"small": {small, []any{"extra", "header", "method"}},
		"large": {large, []any{"a", "b", "c", "d", "extra", "header", "method"}},
	} {
		out, err := prg.Eval(context.Background(), Vars{"request": tc.req, "body": map[string]any{}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]any{"body": []any{"POST", int64(len(tc.req)), true, false, []any{"y"}, tc.keys, true, true}}
		if diff := cmp.Diff(want, out); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestConcurrentEval(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Outgoing)
	if err != nil {
		t.Fatal(err)
	}
	prg, err := Compile(env, `{"header": header.put("n", string(body.n)), "body": body.put("t", formatTime(now, "15:04:05"))}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			for j := range 50 {
				n := int64(i*100 + j)
				out, err := prg.Eval(context.Background(), Vars{
					"body":   map[string]any{"n": n},
					"header": map[string][]string{"A": {"b"}},
					"now":    fixedNow,
				})
				if err != nil {
					errs <- err
					return
				}
				want := map[string]any{
					"header": map[string]any{"A": []any{"b"}, "n": []any{fmt.Sprint(n)}},
					"body":   map[string]any{"n": n, "t": "07:08:09"},
				}
				if diff := cmp.Diff(want, out); diff != "" {
					errs <- fmt.Errorf("(-want +got):\n%s", diff)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`strconv.ParseInt: parsing "12a": invalid syntax`, `strconv.ParseInt: parsing "…": invalid syntax`},
		{`parsing time "x\"y" as "2006"`, `parsing time "…" as "…"`},
		{"error parsing regexp: missing closing ): `(a`", `error parsing regexp: missing closing ): "…"`},
		{`no such overload: 'string' + 'int'`, `no such overload: 'string' + 'int'`},
	}
	for _, tc := range cases {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if regexp.MustCompile(`s3cr3t`).MatchString(redact(`"s3cr3t"`)) {
		t.Error("redact kept a quoted value")
	}
}

// The static estimate warns but never refuses by default: Verify accepts these.
func TestCostWarning(t *testing.T) {
	t.Parallel()
	in, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, src string
		warn      bool
	}{
		{"ordinary", `{"body": body.devices.map(d, d.capabilities.map(c, c))}`, false},
		{"nested input comprehension", `{"body": body.a.map(w, body.a.map(x, body.a.map(y, body.a.map(z, [w, x, y, z]))))}`, true},
		{"filter then map", `{"body": body.devices.filter(d, has(d.capabilities)).map(d, d.capabilities.map(c, c)).flatten()}`, true},
	} {
		prg, err := Compile(in, c.src)
		if err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
			continue
		}
		if got := prg.CostWarning() != ""; got != c.warn {
			t.Errorf("%s: warning %q, want one: %v", c.name, prg.CostWarning(), c.warn)
		}
	}
}

// A transform runs without the runtime cost tracker only when its inputs are small enough for
// the static estimate to stay within the limit; larger inputs are tracked and stopped.
func TestUntrackedOnlyWithinTheEstimate(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(env, `{"body": body.items.map(x, body.items.map(y, x + y))}`)
	if err != nil {
		t.Fatal(err)
	}
	if u := p.untrackedProgram(); u.prg == nil || u.upTo != DefaultInputSizeHint {
		t.Fatalf("untracked up to %d (program %v), want %d", u.upTo, u.prg != nil, DefaultInputSizeHint)
	}
	if _, err := p.Eval(context.Background(), Vars{"body": map[string]any{"items": intList(50)}}); err != nil {
		t.Errorf("50 items: %v", err)
	}
	_, err = p.Eval(context.Background(), Vars{"body": map[string]any{"items": intList(2000)}})
	if !errors.Is(err, ErrCostLimit) {
		t.Errorf("2000 items: %v, want the cost limit", err)
	}
	// A string longer than the bound also takes the tracked path.
	if _, err := p.Eval(context.Background(), Vars{"body": map[string]any{"items": intList(5), "s": strings.Repeat("x", 200)}}); err != nil {
		t.Errorf("long string: %v", err)
	}
	// An estimate that does not depend on the inputs bounds any of them.
	q, err := Compile(env, `{"body": has(body.a) ? {"status": "OK"} : {"status": "FAILED"}}`)
	if err != nil {
		t.Fatal(err)
	}
	if u := q.untrackedProgram(); u.prg == nil || u.upTo < 1<<40 {
		t.Errorf("input-independent estimate: untracked up to %d", u.upTo)
	}
}

// Compiling leaves the untracked path's bounds (one or two more cost estimates) to the
// first evaluation, which start-up and reloads do not wait for; concurrent first
// evaluations make it once, and every one of them is right.
func TestUntrackedPathMadeOnFirstEvaluation(t *testing.T) {
	t.Parallel()
	env, err := NewEnv(Incoming)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(env, `{"body": {"n": size(body.items)}}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.untracked.prg != nil {
		t.Fatal("the untracked path was made by Compile")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			got, err := p.Eval(context.Background(), Vars{"body": map[string]any{"items": intList(i)}})
			if err != nil || got["body"].(map[string]any)["n"] != int64(i) {
				t.Errorf("%d items: %v (%v)", i, got, err)
			}
		})
	}
	wg.Wait()
	if p.untracked.prg == nil {
		t.Error("no untracked path after evaluating")
	}
}

// IBM's DUO transforms all run untracked for inputs of the size DUO sends.
func TestDUOUntrackedBounds(t *testing.T) {
	t.Parallel()
	d := loadDUO(t)
	for name := range d.resources {
		if u := d.outgoing[name].untrackedProgram(); u.prg == nil || u.upTo < 4096 {
			t.Errorf("%s outgoing: untracked up to %d", name, u.upTo)
		}
		if u := d.incoming[name].untrackedProgram(); u.prg == nil || u.upTo < 32 {
			t.Errorf("%s incoming: untracked up to %d", name, u.upTo)
		}
	}
}
