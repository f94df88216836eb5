package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/internal/testdb"
	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// TestANewFactorTypeIsOneFile: a factor type written as one file and one registry line
// (backupcode_test.go, export_test.go), with no other edit, is offered on the
// self-service page with its own words and enrolled there as it says (active at once, its
// code shown once, the link spent); the served OpenAPI document lists it; its recorded
// success replays; and its failures clear on a success though its Validate does not
// clear them.
func TestANewFactorTypeIsOneFile(t *testing.T) {
	testdb.ForEach(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		clk := &clock{t: time.Now().UTC()}
		caps := []string{"totp", builtin.TypeBackupCode}
		e := newEngine(t, st, clk.Now, &engineConfig{caps: caps})
		m, err := lifecycle.New(lifecycle.Options{Store: st, Engines: []*builtin.Engine{e},
			Capabilities: map[string][]string{"emfa": caps}, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := m.SelfService(lifecycle.SelfServiceOptions{Capabilities: caps, LinkLifetime: time.Hour,
			SessionIdle: 10 * time.Minute, PublicURL: "https://mfa.example.com"})
		if err != nil {
			t.Fatalf("the page refuses a type that says how it is enrolled: %v", err)
		}
		srv := adapter.New(adapter.Options{Admin: m, SelfService: ss})
		if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "alice"}); err != nil {
			t.Fatal(err)
		}

		t.Run("self-service page", func(t *testing.T) {
			link, err := ss.IssueLink(ctx, "test", "alice", false)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(link.URL)
			b := &browser{h: srv.Handler()}
			if code := b.do(t, "GET", u.Path, nil); code != http.StatusOK {
				t.Fatalf("open link: %d %s", code, b.body)
			}
			if code := b.do(t, "GET", "/self-service/enroll", nil); code != http.StatusOK {
				t.Fatalf("choose: %d %s", code, b.body)
			}
			if !strings.Contains(b.body, `value="backupcode"`) || !strings.Contains(b.body, "A backup code to print") {
				t.Fatalf("the choice does not offer the new type with its words:\n%s", b.body)
			}
			if code := b.do(t, "POST", "/self-service/enroll", url.Values{"type": {builtin.TypeBackupCode}}); code != http.StatusOK {
				t.Fatalf("enroll: %d %s", code, b.body)
			}
			code := regexp.MustCompile(`shown only once: ([0-9]{14})`).FindStringSubmatch(b.body)
			if code == nil {
				t.Fatalf("the page does not show the new code once:\n%s", b.body)
			}
			fs, _ := m.ListFactors(ctx, "alice")
			i := slices.IndexFunc(fs, func(f lifecycle.Factor) bool { return f.Type == builtin.TypeBackupCode })
			if i < 0 || fs[i].State != lifecycle.FactorActive || fs[i].Label != "Backup code" {
				t.Fatalf("factors after the page's enrollment: %+v", fs)
			}
			out, err := e.Validate(ctx, provider.Request{Capability: builtin.TypeBackupCode, ID: fs[i].ID, Username: "alice", Passvalue: code[1]})
			if err != nil || out.Status != provider.StatusSuccess {
				t.Errorf("the code shown: %+v %v", out, err)
			}
			again := &browser{h: srv.Handler()}
			if code := again.do(t, "GET", u.Path, nil); code == http.StatusOK && !strings.Contains(again.body, "used") {
				t.Errorf("the link opens again after the enrollment that spent it: %d %s", code, again.body)
			}
		})

		t.Run("served OpenAPI", func(t *testing.T) {
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", adapter.AdminPrefix+"/openapi.json", nil))
			var doc struct {
				Components struct {
					Schemas map[string]struct {
						Properties map[string]struct {
							Enum        []string `json:"enum"`
							Description string   `json:"description"`
						} `json:"properties"`
					} `json:"schemas"`
				} `json:"components"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
				t.Fatalf("%d: %v", rec.Code, err)
			}
			if got := doc.Components.Schemas["Enrollment"].Properties["type"].Enum; !slices.Equal(got, builtin.Types()) || !slices.Contains(got, builtin.TypeBackupCode) {
				t.Errorf("Enrollment.type's enum: %v, want %v", got, builtin.Types())
			}
			if got := doc.Components.Schemas["Enrollment"].Properties["activation"].Description; !strings.Contains(got, "onFirstUse for backupcode,") {
				t.Errorf("Enrollment.activation's description does not name the type's modes: %s", got)
			}
		})

		t.Run("activation", func(t *testing.T) {
			if got := builtin.ActivationModes(builtin.TypeBackupCode); !slices.Equal(got, []string{builtin.ActivationPasscode, builtin.ActivationOnFirstUse}) {
				t.Errorf("the modes the type says: %v", got)
			}
			params := map[string]json.RawMessage{"code": json.RawMessage(`"31313131313131"`)}
			en, err := m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: builtin.TypeBackupCode, Params: params})
			if err != nil {
				t.Fatalf("enroll pending its first code (the default for a type that takes passcode): %v", err)
			}
			if en.Factor.State != lifecycle.FactorPendingActivation || en.Factor.Activation != builtin.ActivationPasscode {
				t.Fatalf("enrolled: %+v", en.Factor)
			}
			if _, err := m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, "99990000999900"); err == nil {
				t.Fatal("a wrong first code activates")
			}
			if f, err := m.ActivateFactor(ctx, "test", "alice", en.Factor.ID, "31313131313131"); err != nil || f.State != lifecycle.FactorActive {
				t.Fatalf("the right first code: %+v %v", f, err)
			}

			params = map[string]json.RawMessage{"code": json.RawMessage(`"42424242424242"`)}
			en, err = m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: builtin.TypeBackupCode, Activation: builtin.ActivationOnFirstUse, Params: params})
			if err != nil || en.Factor.State != lifecycle.FactorPendingActivation {
				t.Fatalf("enroll on first use: %+v %v", en.Factor, err)
			}
			out, err := e.Validate(ctx, provider.Request{Capability: builtin.TypeBackupCode, ID: en.Factor.ID, Username: "alice", Passvalue: "42424242424242"})
			if err != nil || out.Status != provider.StatusSuccess {
				t.Fatalf("its first use: %+v %v", out, err)
			}
			if f, _ := m.GetFactor(ctx, "alice", en.Factor.ID); f.State != lifecycle.FactorActive {
				t.Errorf("after its first use: %s", f.State)
			}

			_, err = m.EnrollFactor(ctx, "test", "alice", lifecycle.Enrollment{Type: "question", Activation: builtin.ActivationOnFirstUse,
				Params: map[string]json.RawMessage{"question": json.RawMessage(`["q?"]`), "answer": json.RawMessage(`["a"]`)}})
			if err == nil || !strings.Contains(err.Error(), "question factors take activation immediate") {
				t.Errorf("a type that says no modes: %v", err)
			}
		})

		t.Run("self-service sign-in", func(t *testing.T) {
			if _, err := e.Enroll(ctx, enrollment(builtin.TypeBackupCode, "alice", "code", "12121212121212")); err != nil {
				t.Fatal(err)
			}
			b := &browser{h: srv.Handler()}
			if code := b.do(t, "GET", "/self-service/", nil); code != http.StatusOK {
				t.Fatalf("sign-in page: %d %s", code, b.body)
			}
			if !strings.Contains(b.body, `value="backupcode"`) || !strings.Contains(b.body, "A backup code") {
				t.Fatalf("the sign-in form does not offer the new type with its words:\n%s", b.body)
			}
			// The form's answer is a redirect to the code page (post/redirect/get).
			if code := b.do(t, "POST", "/self-service/signin", url.Values{"username": {"alice"}, "method": {builtin.TypeBackupCode}}); code != http.StatusSeeOther {
				t.Fatalf("start: %d %s", code, b.body)
			}
			if code := b.do(t, "GET", "/self-service/signin/code", nil); code != http.StatusOK {
				t.Fatalf("the code page: %d %s", code, b.body)
			}
			if !strings.Contains(b.body, "Enter one of your backup codes") {
				t.Fatalf("the code page does not ask in the type's words:\n%s", b.body)
			}
			if code := b.do(t, "POST", "/self-service/signin/code", url.Values{"code": {"12121212121212"}}); code != http.StatusSeeOther {
				t.Fatalf("the right code: %d %s", code, b.body)
			}
			if code := b.do(t, "GET", "/self-service/", nil); code != http.StatusOK || !strings.Contains(b.body, "/self-service/signout") {
				t.Errorf("not signed in after the right code: %d %s", code, b.body)
			}
		})

		t.Run("transcript setup", func(t *testing.T) {
			en, err := e.Enroll(ctx, enrollment(builtin.TypeBackupCode, "alice", "code", "77778888999900"))
			if err != nil {
				t.Fatal(err)
			}
			spec, err := transcript.FactorSetup("alice", &en.Factor)
			if err != nil {
				t.Fatal(err)
			}
			data, err := transcript.Marshal(&transcript.Transcript{Name: "n", Config: "c", Setup: []transcript.Setup{{Factor: spec}},
				Steps: []transcript.Step{{Call: &transcript.Call{Resource: "test"}}}})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "code: <redacted>") {
				t.Fatalf("the type's own field is not recorded:\n%s", data)
			}
			tr, err := transcript.Parse(data)
			if err != nil {
				t.Fatalf("the recording does not read back: %v\n%s", err, data)
			}
			values, err := tr.Setup[0].Factor.Values()
			if err != nil || values.Get("code") != builtin.BackupCodeStandIn {
				t.Fatalf("replay's enrollment values: %v %v", values, err)
			}
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "setup"}); err != nil {
				t.Fatal(err)
			}
			re, err := e.Enroll(ctx, builtin.Enrollment{Type: builtin.TypeBackupCode, User: "setup", Values: values})
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Validate(ctx, provider.Request{Capability: builtin.TypeBackupCode, ID: re.Factor.ID, Username: "setup", Passvalue: builtin.ReplayInput(&en.Factor)})
			if err != nil || out.Status != provider.StatusSuccess {
				t.Errorf("the replayed validate: %+v %v", out, err)
			}

			typo := strings.Replace(string(data), "code: <redacted>", "cod: <redacted>", 1)
			if _, err := transcript.Parse([]byte(typo)); err == nil || !strings.Contains(err.Error(), `unknown key "cod" (did you mean "code"?)`) {
				t.Errorf("a key the type does not have: %v", err)
			}
		})

		t.Run("failures clear on a success", func(t *testing.T) {
			en, err := e.Enroll(ctx, enrollment(builtin.TypeBackupCode, "alice", "code", "11112222333344"))
			if err != nil {
				t.Fatal(err)
			}
			req := provider.Request{Capability: builtin.TypeBackupCode, ID: en.Factor.ID, Username: "alice", Passvalue: "99990000999900"}
			for range 2 {
				if out, err := e.Validate(ctx, req); err != nil || out.Status != provider.StatusFailed {
					t.Fatalf("a wrong code: %+v %v", out, err)
				}
			}
			if f, _ := st.GetFactor(ctx, en.Factor.ID); f.Failures != 2 {
				t.Fatalf("failures after two wrong codes: %d", f.Failures)
			}
			req.Passvalue = "11112222333344"
			if out, err := e.Validate(ctx, req); err != nil || out.Status != provider.StatusSuccess {
				t.Fatalf("the right code: %+v %v", out, err)
			}
			if f, _ := st.GetFactor(ctx, en.Factor.ID); f.Failures != 0 {
				t.Errorf("failures after the right code: %d, want 0", f.Failures)
			}
		})

		t.Run("recorded and replayed", func(t *testing.T) {
			en, err := e.Enroll(ctx, enrollment(builtin.TypeBackupCode, "alice", "code", "55556666777788"))
			if err != nil {
				t.Fatal(err)
			}
			values, ok := builtin.Recorded(&en.Factor)
			if !ok || values.Get("code") != builtin.Redacted {
				t.Fatalf("recorded: %v %v", values, ok)
			}
			input := builtin.ReplayInput(&en.Factor)
			if input == "" || input == builtin.Redacted {
				t.Fatalf("the recorded passvalue replays as %q", input)
			}
			// Replay enrolls the recorded values, each redacted secret as its field's
			// stand-in (cmd/emfa setupValues), then sends the recorded input.
			fields, _ := builtin.FieldsOf(builtin.TypeBackupCode)
			for _, f := range fields {
				if values.Get(f.Name) == builtin.Redacted {
					values.Set(f.Name, f.StandIn)
				}
			}
			if _, err := m.CreateUser(ctx, "test", lifecycle.UserInput{Name: "replayed"}); err != nil {
				t.Fatal(err)
			}
			re, err := e.Enroll(ctx, builtin.Enrollment{Type: builtin.TypeBackupCode, User: "replayed", Values: values})
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.Validate(ctx, provider.Request{Capability: builtin.TypeBackupCode, ID: re.Factor.ID, Username: "replayed", Passvalue: input})
			if err != nil || out.Status != provider.StatusSuccess {
				t.Errorf("the replayed validate: %+v %v", out, err)
			}
		})
	})
}

// TestSelfServiceCapabilitiesAreTheTypesSay: a type that does not say how the page
// enrolls it is refused for selfService.capabilities, at its path, naming those that can.
func TestSelfServiceCapabilitiesAreTheTypesSay(t *testing.T) {
	err := builtin.CheckSelfService([]string{"totp", "hotp", builtin.TypeBackupCode})
	want := `selfService.capabilities[1]: cannot be enrolled on the self-service page (it can enroll backupcode, emailotp, push, smsotp, totp, voicecall)`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if err := builtin.CheckSelfService([]string{"totp", "smsotp", "emailotp", "voicecall", "push"}); err != nil {
		t.Errorf("the page's types before: %v", err)
	}
}

// browser is a browser on the self-service page: it keeps its cookies and posts forms
// with the page's CSRF token.
type browser struct {
	h       http.Handler
	cookies map[string]*http.Cookie
	csrf    string
	body    string
}

var csrfInPage = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(t *testing.T, method, path string, form url.Values) int {
	t.Helper()
	var req *http.Request
	if form != nil {
		form.Set("csrf", b.csrf)
		req = httptest.NewRequest(method, path, bytes.NewBufferString(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	if b.cookies == nil {
		b.cookies = map[string]*http.Cookie{}
	}
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	b.body = rec.Body.String()
	if m := csrfInPage.FindStringSubmatch(b.body); m != nil {
		b.csrf = m[1]
	}
	return rec.Code
}

// TestSignInMethodsAreTheTypesSay: the self-service page's sign-in methods are what the
// types say, those whose code the user has first: TOTP and HOTP share one, the test's
// type (which says it) has its own, and a type that says nothing (question) has none.
func TestSignInMethodsAreTheTypesSay(t *testing.T) {
	type method struct {
		Method, Choice, By string
		Types              []string
	}
	var got []method
	for _, m := range builtin.SignInMethods() {
		got = append(got, method{m.Method, m.Choice, m.By, m.Types})
	}
	want := []method{
		{"app", "A code from my authenticator app", builtin.SignInByCode, []string{"hotp", "totp"}},
		{"backupcode", "A backup code", builtin.SignInByCode, []string{"backupcode"}},
		{"emailotp", "A code sent by e-mail", builtin.SignInBySentCode, []string{"emailotp"}},
		{"smsotp", "A code sent by text message", builtin.SignInBySentCode, []string{"smsotp"}},
		{"voicecall", "A code read out in a phone call", builtin.SignInBySentCode, []string{"voicecall"}},
		{"push", "An approval on my phone (push)", builtin.SignInByApproval, []string{"push"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sign-in methods (-want +got):\n%s", diff)
	}
	if _, ok := builtin.SignInMethodOf("question"); ok {
		t.Error("a type that says no sign-in is a method")
	}
}
