package adapter

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/lifecycle"
	"github.com/emfa/emfa/provider/builtin"
)

// The self-service page (/self-service/): server-rendered HTML over lifecycle.SelfService.
// No external asset and no inline script: poll.js polls a push status on the pages that
// wait for a phone, and each has a "continue" button without it; page.js, on every page,
// asks the server again for a page the browser restored from its back/forward cache (a
// set-up's key on Back). Every form carries the session's CSRF token.

//go:embed templates/selfservice.html templates/selfservice.css templates/poll.js templates/page.js
var selfServiceFiles embed.FS

// selfServicePages are parsed at first use, not at start-up: a process serving no page
// (or a CLI command) would pay for nothing.
var selfServicePages = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("selfservice.html").Funcs(template.FuncMap{
		"typeName": typeName, "stateName": stateName, "day": func(t time.Time) string { return day(t, pageZone) },
		"when": func(t time.Time) string { return when(t, pageZone) },
	}).ParseFS(selfServiceFiles, "templates/selfservice.html"))
})

// pageZone is the time zone the page shows times in, named beside each: the server's
// (TZ), which is where its users are more often than UTC.
var pageZone = time.Local

// day is t's date as people write it: "1 May 2026".
func day(t time.Time, zone *time.Location) string { return t.In(zone).Format("2 January 2006") }

// when is t as people say it, with its time zone: "1 May 2026, 09:05 UTC".
func when(t time.Time, zone *time.Location) string {
	return t.In(zone).Format("2 January 2006, 15:04 MST")
}

// typeName is the page's name of a factor type ("Authenticator app"), not its id.
func typeName(typ string) string {
	if page, ok := builtin.PageEnrollmentOf(typ); ok && page.Label != "" {
		return page.Label
	}
	return typ
}

// stateName is a sign-in method's state in the page's words.
func stateName(state string) string {
	switch state {
	case lifecycle.FactorActive:
		return "In use"
	case lifecycle.FactorPendingActivation:
		return "Not set up yet"
	case lifecycle.FactorDisabled:
		return "Turned off"
	}
	return state
}

// selfServiceCookie names the session cookie. Not __Host-: that prefix needs Path=/, and
// the page's cookies go to /self-service/ only.
const selfServiceCookie = "emfa_ss"

// maxFormField bounds each form field, in UTF-16 code units, as a browser counts the
// fields' maxlength="256" (fieldLength): anything longer is refused, not truncated.
// Counted in bytes, the guard refused what the page lets through (a name of 130 "é" is
// 260 bytes) with a message about no field in particular; what a field takes is its
// own check's to say (a label's 256 bytes: lifecycle.SelfService.Rename).
const maxFormField = 256

// maxShownField bounds the one longer field, the sealed key or activation code an
// enrollment's form carries to show it again (an otpauth URI with a long user name).
const maxShownField = 4096

// script-src 'self' admits only poll.js and page.js, served below: no inline script, no eval.
const selfServiceCSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type selfServicePage struct {
	s      *Server
	ss     *lifecycle.SelfService
	secure bool
	// linkAudits bounds the records of unknown links per address (openLink).
	linkAudits *throttle
	// forms runs the forms of one session one at a time (form).
	forms formLocks
	// starts are the sign-ins started lately, by the cookie they were started from (signIn).
	starts signInStarts
	// sends run the sign-ins' codes and pushes after the page answered (pageSends).
	sends *pageSends
}

// formLocks holds, per session cookie, the form being handled: a form posted twice (a
// double click while the first waits on an SMS gateway or a mail server) waits for the
// first, then sees what it did (the set-up started, SamePending), rather than load the
// session as it was and start a second one, send a second code, and delete the first's
// factor under it. Per process; a double click sent to two replicas is caught by
// lifecycle.SelfService.Enroll, which answers the first's set-up (its key, or the
// factor its code went to) from a record in the store.
type formLocks struct {
	mu sync.Mutex
	m  map[string]*formLock
}

type formLock struct {
	held  chan struct{} // a token while a form holds it
	users int           // the forms holding or waiting for it: the entry goes with the last
}

// lock waits until no other form of the session of cookie is being handled, or ctx ends.
func (l *formLocks) lock(ctx context.Context, cookie string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*formLock{}
	}
	e := l.m[cookie]
	if e == nil {
		e = &formLock{held: make(chan struct{}, 1)}
		l.m[cookie] = e
	}
	e.users++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, cookie)
		}
		l.mu.Unlock()
	}
	select {
	case e.held <- struct{}{}:
	default:
		formWait()
		select {
		case e.held <- struct{}{}:
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		}
	}
	return func() { <-e.held; release() }, nil
}

// routeSelfService serves the page. secure marks the cookie Secure (TLS, or a trusted
// proxy's https public URL); budgets are its throttles' per address.
func (s *Server) routeSelfService(e *echo.Echo, ss *lifecycle.SelfService, secure bool, budgets PageBudgets) {
	s.signIns = budgets.signIns()
	p := &selfServicePage{s: s, ss: ss, secure: secure, linkAudits: budgets.linkAudits(), sends: newPageSends(s)}
	s.pages = p
	toPage := func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/self-service/") }
	e.GET("/self-service", toPage, p.headers)
	e.HEAD("/self-service", toPage, p.headers)
	// The headers are route middleware, not the group's: a group's middleware adds a
	// catch-all route, which answered a wrong method the page's 404 instead of 405 with
	// Allow (adapter.go). pageError answers the rest with the headers.
	g := &pageRoutes{g: e.Group("/self-service"), m: p.headers}
	g.GET("/style.css", func(c echo.Context) error {
		css, _ := selfServiceFiles.ReadFile("templates/selfservice.css")
		c.Response().Header().Set(echo.HeaderCacheControl, "max-age=3600")
		return c.Blob(http.StatusOK, "text/css; charset=utf-8", css)
	})
	for _, name := range []string{"poll.js", "page.js"} {
		g.GET("/static/"+name, func(c echo.Context) error {
			js, _ := selfServiceFiles.ReadFile("templates/" + name)
			c.Response().Header().Set(echo.HeaderCacheControl, "max-age=3600")
			return c.Blob(http.StatusOK, "text/javascript; charset=utf-8", js)
		})
	}
	g.GET("/", p.wrap(p.home))
	g.GET("/push/status", p.pushStatus)
	g.POST("/push/continue", p.wrap(p.form(p.pushContinue)))
	g.GET("/signin/status", p.signInStatus)
	g.POST("/signin/continue", p.wrap(p.form(p.signInContinue)))
	g.GET("/link/:token", p.wrap(p.openLink))
	g.POST("/link/:token", p.wrap(p.form(p.switchLink)))
	g.GET("/switch", p.wrap(p.switchPage))
	g.POST("/switch", p.wrap(p.form(p.switchPending)))
	g.GET("/enroll", p.wrap(p.choose))
	g.POST("/enroll", p.wrap(p.form(p.enroll)))
	g.POST("/confirm", p.wrap(p.form(p.confirm)))
	// The enrollment's POST answers a redirect to these GETs (post/redirect/get): a
	// reload, Back or Forward shows the same pending enrollment or the same result, and
	// never posts the form again (a new key, a code deleted by the send limit).
	g.GET("/confirm", p.wrap(p.pendingPage))
	g.GET("/ready", p.ready)
	g.POST("/resend", p.wrap(p.form(p.resend)))
	g.POST("/signin", p.wrap(p.form(p.signIn)))
	g.POST("/signin/code", p.wrap(p.form(p.signInCode)))
	g.POST("/signin/resend", p.wrap(p.form(p.signInResend)))
	// A sign-in's steps answer a redirect to these GETs too (post/redirect/get): a reload
	// shows the code form or the approval again, and never posts the user name again (a
	// new code sent, a push to the phone), a mistyped code (a try counted) nor a
	// "continue" before the approval.
	g.GET("/signin/code", p.wrap(p.signInStep))
	g.GET("/signin/approve", p.wrap(p.signInStep))
	g.POST("/factors/:factor/rename", p.wrap(p.form(p.rename)))
	g.POST("/factors/:factor/remove", p.wrap(p.form(p.remove)))
	g.POST("/signout", p.wrap(p.form(p.signOut)))
	// A step's address stays in the address bar after its form was posted, and in the
	// history: opened again, it leads back to the page, not to an error.
	for _, path := range []string{"/signin", "/signin/resend", "/signin/continue", "/push/continue", "/resend",
		"/factors/:factor/rename", "/factors/:factor/remove", "/signout"} {
		g.GET(path, p.reopened)
	}
}

// pageRoutes adds the page's routes to a group, each with the page's headers.
type pageRoutes struct {
	g *echo.Group
	m echo.MiddlewareFunc
}

// GET adds HEAD with it: a link checker or a proxy's probe gets the GET's status and
// headers (net/http drops the body), not 405, and a 405's Allow lists both.
func (r *pageRoutes) GET(path string, h echo.HandlerFunc) {
	r.g.GET(path, h, r.m)
	r.g.HEAD(path, h, r.m)
}
func (r *pageRoutes) POST(path string, h echo.HandlerFunc) { r.g.POST(path, h, r.m) }

// reopened answers a GET of a step only a form posts to: the step a link's session is at
// (the home page would start a new session in its place), the page otherwise.
func (p *selfServicePage) reopened(c echo.Context) error {
	if sess, err := p.session(c); err == nil && sess.Kind == lifecycle.SessionLink {
		return c.Redirect(http.StatusSeeOther, "/self-service/enroll")
	}
	return c.Redirect(http.StatusSeeOther, "/self-service/")
}

// pageError answers an error no handler of the page turned into a page (an unknown
// address, a wrong method, a body too large) with the page's message, not the contract's
// JSON; it reports whether it answered. The status endpoints, which a script reads, keep
// answering JSON.
func (s *Server) pageError(err error, c echo.Context) bool {
	path := c.Request().URL.Path
	if s.pages == nil || (path != "/self-service" && !strings.HasPrefix(path, "/self-service/")) {
		return false
	}
	// The group's headers did not run for a request refused before its routes (a body
	// too large, a wrong method): every answer under the page carries them.
	_ = s.pages.headers(func(c echo.Context) error { return nil })(c)
	if strings.HasSuffix(path, "/status") {
		return false // JSON, for the script that polls it
	}
	f := classify(err)
	status := f.Status
	d := pageData{Title: "Something went wrong", Text: "Please try again later."}
	switch status {
	case http.StatusNotFound:
		d.Title, d.Text = "There is no such page", "Check the address, or start from the sign-in page."
	case http.StatusMethodNotAllowed:
		d.Title, d.Text = "This page cannot be opened that way", "Start from the sign-in page."
		if allow, ok := allowed(c); ok {
			c.Response().Header().Set(echo.HeaderAllow, allow)
		}
	case http.StatusRequestEntityTooLarge:
		d.Title, d.Text = "That form was too large", "Go back, shorten what you typed, and send it again."
	default:
		if f.Fault {
			s.logFault(c, err)
		} else {
			d.Title, d.Text = "That did not work", "Go back and try again."
		}
	}
	if werr := s.pages.render(c, status, "message", d); werr != nil {
		s.log.Debug("write error response", "err", werr)
	}
	return true
}

// headers: a strict CSP, no caching (pages show seeds and QR codes), no referrer (a link's
// token is in its URL), no framing.
func (p *selfServicePage) headers(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", selfServiceCSP)
		h.Set(echo.HeaderCacheControl, "no-store")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set(echo.HeaderXFrameOptions, "DENY")
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		return next(c)
	}
}

type pageData struct {
	Title, Error, Notice, Text, CSRF, User string
	Back, BackText                         string       // an error page's way on; "" for the sign-in page
	QR                                     template.URL // a data: URI emfa rendered itself
	Secret                                 string
	Code                                   string // a push activation code
	Shown                                  string // lifecycle.SealShown's token: the page shows the same again
	Action                                 string // the switch's form: the link's address
	Factor                                 string // the confirm form's: the factor it confirms
	Resend                                 bool   // the confirm page offers to send a new code
	Number                                 int    // the number to type on the device
	SignedIn                               bool
	Hop                                    bool   // the link's page: refresh to /self-service/enroll?c=1
	HopSwitch                              bool   // ... to /self-service/switch instead: the link asks first
	CookieTest                             bool   // the sign-in form's action carries the cookie test (cookieTest)
	Help                                   string // an error page's help text (selfService.helpText)
	Capabilities                           []capChoice
	Destination                            destinationField       // asked only when a capability sends a code
	Methods                                []builtin.SignInMethod // the sign-in methods served (lifecycle.SignInMethods)
	Factors                                []lifecycle.Factor
}

type capChoice struct {
	Type, Name string
	Checked    bool
}

// destinationField is the choice page's field for where a code is sent: its label and
// autocomplete hint, or none when no capability offered sends one (a page of
// authenticator apps and push asks for no phone number).
type destinationField struct {
	Label, Autocomplete string
	Value               string // as the person typed it, when the form comes back
	Invalid             bool   // refused: the field is marked, and described by the error
	// Country is the one a phone number typed without its country code is read as
	// (Name "": none, only a number with one is taken).
	Country lifecycle.PhoneCountry
}

// Hint says how a phone number typed without its country code is read ("": it is not).
func (f destinationField) Hint() string {
	if f.Country.Name == "" {
		return ""
	}
	return fmt.Sprintf("A phone number typed without + and its country code is read as a number in %s (+%d).", f.Country.Name, f.Country.CallingCode)
}

// DescribedBy is the ids of what describes the field: the refusal, the hint.
func (f destinationField) DescribedBy() string {
	var ids []string
	if f.Invalid {
		ids = append(ids, "error")
	}
	if f.Hint() != "" {
		ids = append(ids, "destination-hint")
	}
	return strings.Join(ids, " ")
}

func destinationFor(caps []string) destinationField {
	var phone, mail bool
	for _, t := range caps {
		page, _ := builtin.PageEnrollmentOf(t)
		switch page.Destination {
		case "phone":
			phone = true
		case "email":
			mail = true
		}
	}
	switch {
	case phone && mail:
		return destinationField{Label: "Phone number (+15551230123) or e-mail address, for a code sent to you", Autocomplete: "tel"}
	case phone:
		return destinationField{Label: "Phone number (+15551230123), for a code sent to you", Autocomplete: "tel"}
	case mail:
		return destinationField{Label: "E-mail address, for a code sent to you", Autocomplete: "email"}
	}
	return destinationField{}
}

// capName is the page's words for a factor type among the choices: its type's own.
func capName(typ string) string {
	page, _ := builtin.PageEnrollmentOf(typ)
	return page.Choice
}

func (p *selfServicePage) render(c echo.Context, status int, name string, d pageData) error {
	if name == "signin" {
		// Only the methods something serves: a choice none serves fails every time.
		d.Methods = p.ss.SignInMethods()
	}
	if name == "message" && status >= http.StatusBadRequest {
		d.Help = p.ss.HelpText() // the operator's words on where to get help
	}
	var b strings.Builder
	if err := selfServicePages().ExecuteTemplate(&b, name, d); err != nil {
		return err
	}
	return c.HTML(status, b.String())
}

// wrap answers a handler's error with a page: a refusal's message, or a fault's, in the
// page's words, with the way on from where the person is.
func (p *selfServicePage) wrap(h echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		err := h(c)
		if err == nil {
			return nil
		}
		var le *lifecycle.Error
		var ae *Error
		d := pageData{Title: "Something went wrong", Text: "Please try again later."}
		status := http.StatusServiceUnavailable
		ended := false // the session can do nothing more: no way back into it
		switch {
		case errors.As(err, &le):
			status, d.Title, d.Text = adminStatus[le.Kind], "That did not work", pageText(le)
			switch le.Code {
			case "link_invalid", "link_spent":
				d.Title, ended = "This link cannot be used", true
			case "link_expired":
				d.Title, ended = "This link has expired", true
				d.Text = "Each link to set up your sign-in verification works for a limited time, and this one's is over. " +
					"Ask your help desk (or whoever sent you the link) for a new one, then open the new link."
			case "enrollment_ended":
				d.Title = "This set-up cannot be finished"
			case lifecycle.ErrUserOff.Code:
				d.Title, ended = "No code was sent", true // the session ended with its user's state
			case "session_expired":
				d.Title, ended = "Your session has ended", true
				d.Text = "Your session has ended. Sign in again, or open your link again."
			}
		case errors.As(err, &ae):
			status, d.Title, d.Text = ae.Status, "That did not work", sentence(ae.Msg)
		default:
			p.s.log.Error("self-service fault", "path", c.Path(), "err", err)
		}
		if ended && c.Get(keepSession) == nil {
			// Only a cookie the request carried: a cross-site POST, which carries none,
			// must not clear the person's real session.
			if _, err := c.Cookie(selfServiceCookie); err == nil {
				p.clearCookie(c)
			}
		} else {
			d.Back, d.BackText = p.wayBack(c)
		}
		return p.render(c, status, "message", d)
	}
}

// wayBack is where an error page leads: the factors page for a signed-in person, the
// step under way for one enrolling with a link, the sign-in page otherwise.
func (p *selfServicePage) wayBack(c echo.Context) (href, text string) {
	sess, err := p.session(c)
	switch {
	case err != nil:
	case sess.Kind == lifecycle.SessionUser:
		return "/self-service/", "Back to my sign-in methods"
	case sess.Kind == lifecycle.SessionLink:
		return "/self-service/enroll", "Back to setting up your sign-in verification"
	}
	return "", ""
}

// fieldNames are the page's names of the fields a refusal may name.
var fieldNames = map[string]string{"label": "Name", "code": "Code", "passcode": "Code", "username": "User name",
	"destination": "Phone number or e-mail address", "phone": "Phone number", "email": "E-mail address", "type": "Method"}

// pageText is a refusal as the page says it: the field named ("Name is required"), a
// sentence with a capital and a full stop, no API prefix.
func pageText(le *lifecycle.Error) string {
	msg := pageWords.Replace(strings.TrimPrefix(le.Msg, "that did not work: "))
	if name, ok := fieldNames[le.Field]; ok {
		msg = name + " " + msg
	}
	return sentence(msg)
}

// pageWords are the page's words for the API's: a person has sign-in methods, not
// factors or capabilities.
var pageWords = strings.NewReplacer("factors", "sign-in methods", "factor", "sign-in method",
	"capabilities", "sign-in methods", "capability", "sign-in method")

// sentence capitalises msg and ends it with a full stop.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// The session cookie is SameSite=Lax, not Strict. With Strict a link to the page from
// another site (a portal, a mail) arrived without the cookie, and the page, seeing no
// session, started an anonymous one whose cookie replaced the signed-in one: any site
// could sign a user out with a plain link. The server cannot tell "no cookie" from "a
// cookie the browser held back", so the browser must send it: Lax sends it on top-level
// GET navigations only. That opens nothing to other sites: every route that changes
// anything is a POST, and each checks the session's CSRF token (form); the GETs (the
// page, the enroll chooser, a link's opening, the status polls, which also want the
// token in a header) only read, but for a session's idle timer and the session a link
// opens, as with any cookie; a link replaces no session of another user unasked
// (openLink). Cross-site subrequests (images, frames, fetches) still go without it, and
// the page may not be framed.
const selfServiceSameSite = http.SameSiteLaxMode

func (p *selfServicePage) setCookie(c echo.Context, sess lifecycle.Session) {
	c.SetCookie(&http.Cookie{Name: selfServiceCookie, Value: sess.Cookie, Path: "/self-service/", HttpOnly: true,
		Secure: p.secure || c.Request().TLS != nil, SameSite: selfServiceSameSite, MaxAge: int((12 * time.Hour).Seconds())})
}

func (p *selfServicePage) clearCookie(c echo.Context) {
	c.SetCookie(&http.Cookie{Name: selfServiceCookie, Value: "", Path: "/self-service/", HttpOnly: true,
		Secure: p.secure || c.Request().TLS != nil, SameSite: selfServiceSameSite, MaxAge: -1})
}

// activated sets a signed-in session's cookie again, unchanged, as the answer of a
// factor's activation. Chromium keeps no-store pages in its back/forward cache unless an
// HttpOnly cookie changed since: this evicts the set-up page, so that Back does not
// restore the new factor's key, QR code or activation code even with JavaScript off
// (page.js asks the server again for a restored page, in every browser that runs it). A
// link's activation clears its cookie, to the same effect.
func (p *selfServicePage) activated(c echo.Context, sess lifecycle.Session) {
	p.setCookie(c, sess)
}

func (p *selfServicePage) session(c echo.Context) (lifecycle.Session, error) {
	ck, err := c.Cookie(selfServiceCookie)
	if err != nil {
		return lifecycle.Session{}, lifecycle.ErrNoSession
	}
	return p.ss.Session(c.Request().Context(), ck.Value)
}

// formWait is called when a form waits for another of its session (formLocks): a test's hook.
var formWait = func() {}

// form admits a POST with a live session, a matching CSRF token and no oversized field.
func (p *selfServicePage) form(h func(echo.Context, lifecycle.Session) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		f, err := c.FormParams()
		if err != nil {
			if isTooLarge(err) { // streamed without a Content-Length: as readBody answers it
				return &Error{Status: http.StatusRequestEntityTooLarge, ID: "body_too_large", Msg: "body too large"}
			}
			return &Error{Status: http.StatusBadRequest, ID: "invalid_form", Msg: "the form could not be read"}
		}
		for k, vs := range f {
			limit := maxFormField
			if k == "shown" {
				limit = maxShownField
			}
			if len(vs) > 1 || (len(vs) == 1 && fieldLength(vs[0], limit) > limit) {
				return &Error{Status: http.StatusBadRequest, ID: "invalid_form", Msg: "a field of the form is repeated or too long"}
			}
		}
		if ck, err := c.Cookie(selfServiceCookie); err == nil {
			unlock, err := p.forms.lock(c.Request().Context(), ck.Value)
			if err != nil {
				return err
			}
			defer unlock()
		}
		sess, err := p.session(c)
		if err != nil {
			if p.cookieRefused(c) {
				return p.cookiesBlocked(c)
			}
			return err
		}
		if err := p.ss.CheckCSRF(sess, f.Get("csrf")); err != nil {
			return err
		}
		return h(c, sess)
	}
}

// fieldLength is the length of v as a browser's maxlength counts it, in UTF-16 code
// units (a letter outside the Basic Multilingual Plane, an emoji, is two); a v of more
// than 3*limit bytes is over limit uncounted, as no unit takes more than 3 bytes.
func fieldLength(v string, limit int) int {
	if len(v) > 3*limit {
		return len(v)
	}
	n := 0
	for _, r := range v {
		n += utf16.RuneLen(r)
	}
	return n
}

// cookieTest marks the address a page sent a browser to right after setting its first
// cookie (the sign-in form's action, the link's step to the choice): a request there that
// carries no cookie comes from a browser that refused it, and hears so, rather than "your
// session has ended" for a session it never kept. Without the mark, no cookie means one
// that expired, or a form posted from another site.
const cookieTest = "c"

// cookieRefused: the request carries the mark and no session cookie.
func (p *selfServicePage) cookieRefused(c echo.Context) bool {
	_, err := c.Cookie(selfServiceCookie)
	return err != nil && c.QueryParam(cookieTest) == "1"
}

func (p *selfServicePage) cookiesBlocked(c echo.Context) error {
	return p.render(c, http.StatusBadRequest, "message", pageData{Title: "Your browser is blocking cookies",
		Text: "This page needs a cookie to remember, from one step to the next, that it is you, and your browser did not keep it. " +
			"Allow cookies for this site (or leave private browsing), or use another browser, then start again.",
		Back: "/self-service/", BackText: "Start again"})
}

func (p *selfServicePage) home(c echo.Context) error {
	p.dropSwitch(c)
	ctx := c.Request().Context()
	sess, err := p.session(c)
	if err == nil && sess.Kind == lifecycle.SessionUser {
		fs, err := p.ss.Factors(ctx, sess)
		if err != nil {
			return err
		}
		return p.render(c, http.StatusOK, "factors", pageData{Title: "Your sign-in methods", CSRF: sess.CSRF, User: sess.User,
			Factors: fs, Notice: factorsNotice(c.QueryParam("done"), fs)})
	}
	// An anonymous session is never stored (NewSession), nor a sign-in it starts (its state
	// is sealed in the cookie): the form costs no write, and the browser's anonymous cookie
	// is kept, not replaced at each visit.
	if err != nil || sess.Kind != lifecycle.SessionAnon {
		if err == nil {
			// A link's session, whose cookie the form's replaces: it ends with it, or it
			// would live on for a copy of the cookie, with no way left to end it.
			if err := p.ss.End(ctx, sess); err != nil {
				p.s.log.Error("self-service: end the link session the sign-in form replaces", "err", err, "request_id", callRequestID(c))
			}
		}
		if sess, err = p.ss.NewSession(ctx); err != nil {
			return err
		}
		p.setCookie(c, sess)
	}
	_, noCookie := c.Cookie(selfServiceCookie)
	return p.render(c, http.StatusOK, "signin", pageData{Title: "Sign in", CSRF: sess.CSRF, Notice: signInNotices[c.QueryParam("done")],
		Error: signInEnded[c.QueryParam("ended")], CookieTest: noCookie != nil})
}

// factorsNotice is the factors page's notice of the step that led to it (done): only one
// of emfa's own ("Renamed", "Removed", "Added" and a factor's label), since any site may
// link to the page, signed in (SameSite=Lax), with words of its own.
func factorsNotice(done string, fs []lifecycle.Factor) string {
	if done == "Renamed" || done == "Removed" {
		return done
	}
	for _, f := range fs {
		if done == "Added "+f.Label {
			return done
		}
	}
	return ""
}

// signInEnded are what the sign-in form says of a push sign-in that ended without
// approval, by key (as signInNotices).
var signInEnded = map[string]string{
	"denied":  "Sign-in denied: it was denied or canceled on your phone. Start again.",
	"timeout": "Sign-in timed out: it was not approved in time. Start again.",
}

// signInNotices are what the sign-in form may say of the step that led to it, by key: only
// emfa's own words, so that a link cannot put its words on the form.
var signInNotices = map[string]string{
	doneRemovedProof: "Removed. You had signed in with that sign-in method, so sign in again with another.",
	doneSignedOut:    "You have signed out.",
}

const (
	doneRemovedProof = "removed-signin-factor"
	doneSignedOut    = "signed-out"
)

// keepSession marks, in a request's context, that the browser's session lives on
// whatever the refusal (wrap): a link that opens nothing is no reason to sign out a
// session it never belonged to.
const keepSession = "emfa.selfservice.keep"

// openLink opens an activation link: the session it starts replaces the browser's. One
// of another user (signed in, or enrolling with a link) is never replaced unasked: any
// site may send a person a link, an attacker their own, and the person, signed in as
// themselves, would go on to enroll their phone into the attacker's account (login
// CSRF). The page asks instead; the person's answer is a form of the page (switchLink).
func (p *selfServicePage) openLink(c echo.Context) error {
	ctx, refused, end := p.linkOpening(c)
	defer end()
	token := c.Param("token")
	if cur, err := p.session(c); err == nil && (cur.Kind == lifecycle.SessionUser || cur.Kind == lifecycle.SessionLink) {
		c.Set(keepSession, true)
		user, err := p.ss.LinkUser(ctx, token)
		if err != nil {
			return refused(err)
		}
		if user == cur.User {
			// The same user's link opens at once, and its cookie replaces this session's:
			// the session ends first, as switchTo ends another user's, or it would live on
			// for whoever holds a copy of its cookie, with no sign-out left to end it.
			if err := p.ss.End(ctx, cur); err != nil {
				p.s.log.Error("self-service: end the session a link would replace", "err", err, "request_id", callRequestID(c))
				return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable",
					Msg: "your session could not be ended just now, so the link was not opened; try again in a moment"}
			}
		} else {
			// The question is asked at an address without the token, as the link's own
			// page moves on by a refresh (below): the token leaves the address bar and the
			// history, where the next person at this browser would find a link still unspent.
			// It waits in a cookie of its own until the answer.
			c.SetCookie(&http.Cookie{Name: switchCookie, Value: token, Path: "/self-service/", HttpOnly: true,
				Secure: p.secure || c.Request().TLS != nil, SameSite: selfServiceSameSite, MaxAge: int(p.ss.SessionIdle().Seconds())})
			return p.render(c, http.StatusOK, "hop", pageData{Title: "Opening your link", Hop: true, HopSwitch: true})
		}
	}
	sess, err := p.ss.OpenLink(ctx, token)
	if err != nil {
		return refused(err)
	}
	p.setCookie(c, sess)
	// The token leaves the address bar (and the history) at once, by a refresh from a page
	// of ours rather than a redirect: a link clicked in webmail is a cross-site navigation,
	// along whose redirects a browser does not send a SameSite=Strict cookie. The cookie is
	// Lax now (setCookie), which it would send, but the refresh, a navigation this site
	// starts, works whatever the cookie's mode.
	return p.render(c, http.StatusOK, "hop", pageData{Title: "Opening your link", Hop: true})
}

// switchCookie carries the token of a link opened in a browser with a session of another
// user, from the link's address to the question's (switchPage), which has none.
const switchCookie = "emfa_switch"

func (p *selfServicePage) switchToken(c echo.Context) string {
	ck, err := c.Cookie(switchCookie)
	if err != nil || len(ck.Value) > 64 {
		return ""
	}
	return ck.Value
}

// switchPage asks whether the link whose token switchCookie carries may replace the
// browser's session of another user; with no such link, the page.
func (p *selfServicePage) switchPage(c echo.Context) error {
	token := p.switchToken(c)
	cur, err := p.session(c)
	if token == "" || err != nil || (cur.Kind != lifecycle.SessionUser && cur.Kind != lifecycle.SessionLink) {
		return p.reopened(c)
	}
	c.Set(keepSession, true)
	ctx, refused, end := p.linkOpening(c)
	defer end()
	user, err := p.ss.LinkUser(ctx, token)
	if err != nil {
		return refused(err)
	}
	d := pageData{Title: "This link is for someone else", CSRF: cur.CSRF, User: user, Action: "/self-service/switch",
		Text: "This browser is signed in as " + cur.User + ", and this link is for " + user + ". Continue only if you mean to set up " +
			"sign-in verification for " + user + ": " + cur.User + " will be signed out here."}
	d.Back, d.BackText = "/self-service/", "Stay signed in as "+cur.User
	if cur.Kind == lifecycle.SessionLink {
		d.Text = "This browser is setting up sign-in verification for " + cur.User + ", and this link is for " + user +
			". Continue only if you mean to set it up for " + user + " instead."
		d.Back, d.BackText = "/self-service/enroll", "Go on setting up sign-in verification for "+cur.User
	}
	return p.render(c, http.StatusOK, "switch", d)
}

// linkOpening is the context of a link's opening, and what answers its refusal. A link
// that does not exist is guessing, from anyone on the internet: it counts against the
// address's budget of the page (Server.signIns, with the sign-ins), and past it is
// answered 429, Retry-After; a real link opens whatever the budget, as right credentials
// pass a throttled address. One that exists but opens nothing (spent, expired, its user
// disabled) is a link that does not work all the same, opened as often as its holder
// likes: it counts alike. Its record names the address and the request; past an
// address's few (linkAudits), or past its budget, it is logged instead, so that a flood
// does not fill the audit table. The opening holds one of the address's attempts, in
// either budget, until end (which the caller defers): links opened at once, a script's
// parallel guesses, pass no more than the budgets have left, as sign-in steps do.
func (p *selfServicePage) linkOpening(c echo.Context) (ctx context.Context, refused func(error) error, end func()) {
	addr, rid := c.RealIP(), callRequestID(c)
	ok, wait, endTry := p.s.signIns.begin(addr)
	record, _, endRecord := p.linkAudits.begin(addr)
	end = func() { endTry(); endRecord() }
	record = record && ok
	ctx = lifecycle.WithSource(c.Request().Context(), lifecycle.Source{Addr: addr, Unrecorded: !record})
	return ctx, func(err error) error {
		unknown := errors.Is(err, lifecycle.ErrLinkInvalid)
		if !unknown && !errors.Is(err, lifecycle.ErrLinkSpent) && !errors.Is(err, lifecycle.ErrLinkExpired) {
			return err
		}
		switch {
		case record:
			p.linkAudits.failed(addr)
		case unknown:
			p.s.log.Warn("self-service unknown link not recorded", "remote", addr, "request_id", rid)
		default:
			p.s.log.Warn("self-service refused link not recorded", "err", err, "remote", addr, "request_id", rid)
		}
		if !ok {
			secs := retryAfter(c, wait)
			c.Set(ctxAuthThrottled, true)
			return p.render(c, http.StatusTooManyRequests, "message", pageData{Title: "Too many attempts",
				Text: fmt.Sprintf("Too many links that do not work were opened from your network: try again in %d seconds.", secs)})
		}
		p.s.signIns.failed(addr)
		return err
	}, end
}

// switchLink opens an activation link in place of the browser's session of another
// user, once the person said so on the page (openLink): a form with the session's CSRF
// token, and, for a browser that says where the form came from, from this page; the
// session it replaces ends. A link that opens nothing leaves the session as it was.
func (p *selfServicePage) switchLink(c echo.Context, cur lifecycle.Session) error {
	return p.switchTo(c, cur, c.Param("token"), false)
}

// switchPending is switchLink for the question's form (switchPage): the token its cookie
// carries, which goes with the answer.
func (p *selfServicePage) switchPending(c echo.Context, cur lifecycle.Session) error {
	token := p.switchToken(c)
	if token == "" {
		return p.reopened(c)
	}
	return p.switchTo(c, cur, token, true)
}

// dropSwitch deletes the switch cookie, if the request has one: answered, or declined
// by the question's other button (to the home or enrollment page), the link it carries
// does not wait for the next person at this browser.
func (p *selfServicePage) dropSwitch(c echo.Context) {
	if _, err := c.Cookie(switchCookie); err != nil {
		return
	}
	c.SetCookie(&http.Cookie{Name: switchCookie, Value: "", Path: "/self-service/", HttpOnly: true,
		Secure: p.secure || c.Request().TLS != nil, SameSite: selfServiceSameSite, MaxAge: -1})
}

// switchTo opens the link of token in place of cur, the browser's session of another
// user; pending: the question's cookie carried the token (switchPending), and goes with
// the answer, but for a switch that could not end cur, which the person may try again.
func (p *selfServicePage) switchTo(c echo.Context, cur lifecycle.Session, token string, pending bool) error {
	c.Set(keepSession, true)
	drop := func() {
		if pending {
			p.dropSwitch(c)
		}
	}
	// Sec-Fetch-Site, not Origin: the page's no-referrer policy makes a browser send its
	// own forms with Origin: null.
	if site := c.Request().Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		drop()
		return &Error{Status: http.StatusForbidden, ID: "forbidden", Msg: "this form was not sent by the page; open the link again"}
	}
	// Any browser has a form's CSRF token for the asking (the sign-in form's anonymous
	// session): a token posted here that does not exist is a guess as one opened by GET
	// is, counted against the address and recorded within its few, not each one a row.
	ctx, refused, end := p.linkOpening(c)
	defer end()
	// The link is checked (as OpenLink checks it, a refusal recorded alike) before the
	// session ends: a link that opens nothing signs no one out.
	if _, err := p.ss.LinkUser(ctx, token); err != nil {
		drop()
		return refused(err)
	}
	// The session goes before the link opens, and a session the store did not end stops
	// the switch: it would live on, server-side, for whoever holds a copy of its cookie
	// (a shared computer's, a stolen one), while the person, now on the link's page,
	// believed it ended. Nothing of the link is opened; the question may be answered again.
	if err := p.ss.End(ctx, cur); err != nil {
		p.s.log.Error("self-service: end the session a link would replace", "err", err, "request_id", callRequestID(c))
		return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable",
			Msg: "you are still signed in as " + cur.User + ": that could not be ended just now, so the link was not opened; try again in a moment"}
	}
	drop()
	sess, err := p.ss.OpenLink(ctx, token)
	if err != nil {
		return refused(err)
	}
	p.setCookie(c, sess)
	// A POST from the page: a redirect keeps the cookie, and the token leaves the address bar.
	return c.Redirect(http.StatusSeeOther, "/self-service/enroll")
}

func (p *selfServicePage) choose(c echo.Context) error {
	p.dropSwitch(c)
	sess, err := p.session(c)
	if err != nil {
		if p.cookieRefused(c) {
			return p.cookiesBlocked(c)
		}
		return err
	}
	if c.QueryParam(cookieTest) != "" {
		// The cookie came back: the address without the mark, which a reload long after
		// (the cookie gone with its session) must not take for a refusal.
		return c.Redirect(http.StatusSeeOther, "/self-service/enroll")
	}
	if sess.Kind != lifecycle.SessionLink && sess.Kind != lifecycle.SessionUser {
		return lifecycle.ErrNoSession
	}
	// A link spent (by another browser), replaced or expired meanwhile is refused before
	// the choice, not after it.
	if err := p.ss.LinkUsable(c.Request().Context(), sess); err != nil {
		return err
	}
	return p.render(c, http.StatusOK, "choose", p.chooseData(c.Request().Context(), sess, "", ""))
}

// chooseData is the choice page's, with typ chosen and dest typed ("": the first, none).
func (p *selfServicePage) chooseData(ctx context.Context, sess lifecycle.Session, typ, dest string) pageData {
	d := pageData{Title: "Set up a sign-in method", CSRF: sess.CSRF, User: sess.User, SignedIn: sess.Kind == lifecycle.SessionUser}
	for i, t := range p.ss.Capabilities() {
		d.Capabilities = append(d.Capabilities, capChoice{Type: t, Name: capName(t), Checked: t == typ || typ == "" && i == 0})
	}
	d.Destination = destinationFor(p.ss.Capabilities())
	d.Destination.Value = dest
	if d.Destination.Autocomplete == "tel" {
		// A number typed as the person dials it at home is read as their country's:
		// the page says which, as the label's example has a + and a country code.
		if pc, ok := p.ss.PhoneCountry(ctx, sess); ok {
			d.Destination.Country = pc
		}
	}
	return d
}

// destinationRefused is what the choice page says of a refusal of the phone number or
// e-mail address typed for typ, if it was one: not a phone number in a form that says its
// country, none of country's (the one national numbers are read as: destinationField's),
// not an address, one the person already has, or none could be sent there.
func destinationRefused(le *lifecycle.Error, typ, country string) (string, bool) {
	page, _ := builtin.PageEnrollmentOf(typ)
	where := map[string]string{"phone": "that phone number", "email": "that e-mail address"}[page.Destination]
	switch {
	case where == "":
		return "", false
	case le == lifecycle.ErrPhoneDigits:
		return "That phone number has a digit too many or too few for its country. Check it, and type it again with + and the country code.", true
	case le == lifecycle.ErrPhoneNational && country != "":
		return "That is not a phone number in " + country + ". Check it, or type it with + and the country code if it is another country's.", true
	case le == lifecycle.ErrPhoneCallingCode:
		return "No country's code follows the + of that phone number. Type it with + and the country code, like +1 555 010 0199 or +44 20 7946 0958.", true
	case le.Field == "destination" && page.Destination == "phone":
		return "That phone number cannot be used: type it with + and the country code, like +1 555 010 0199 or +44 20 7946 0958.", true
	case le.Field == "destination":
		return "That e-mail address cannot be used: type one address, like name@example.com.", true
	case le.Code == "factor_exists":
		return "You already have this sign-in method with " + where + ". Type another, or choose another method.", true
	case le.Code == "activation_not_sent":
		text := "No code could be sent to " + where + " just now. Check what you typed, or try again later."
		if le.RetryAfter > 0 {
			text = "No code could be sent to " + where + " just now: the next one can be sent in " + inWords(le.RetryAfter) + ". Check what you typed, and try again then."
		}
		return text, true
	}
	return "", false
}

func (p *selfServicePage) enroll(c echo.Context, sess lifecycle.Session) error {
	ctx := c.Request().Context()
	typ, dest := c.FormValue("type"), c.FormValue("destination")
	if p.ss.SamePending(ctx, sess, typ, dest) {
		// The same start again (the form posted twice, Back then Continue): the pending
		// one is shown again, if the page can show all of it (a code factor shows only
		// where its code went; a key or activation code needs what was sealed for it).
		if _, _, ok := p.ss.OpenShown(sess, p.shownOf(c)); ok || builtin.Destination(typ) != "" {
			return c.Redirect(http.StatusSeeOther, "/self-service/confirm")
		}
	}
	out, err := p.ss.Enroll(ctx, &sess, typ, dest)
	if le := (*lifecycle.Error)(nil); errors.As(err, &le) {
		if _, ok := destinationRefused(le, typ, ""); ok {
			// The form again, with what was typed and why (in words that may name the
			// country a national number was read as), the field marked.
			d := p.chooseData(ctx, sess, typ, dest)
			d.Error, _ = destinationRefused(le, typ, d.Destination.Country.Name)
			d.Destination.Invalid = true
			return p.render(c, adminStatus[le.Kind], "choose", d)
		}
	}
	if err != nil {
		return err
	}
	if out.Factor.State == lifecycle.FactorActive {
		// Active at once (builtin.PageAtOnce): nothing to confirm; what the type shows
		// once (a code to keep), shown now.
		return p.enrolledAtOnce(c, sess, out)
	}
	// What the page shows (a key, an activation code), sealed for this enrollment, in a
	// cookie of its own: the page after the redirect, and each reload of it, shows it
	// again; no address (nor a log of addresses) carries it.
	p.setShown(c, p.ss.SealShown(sess, out.Output))
	return c.Redirect(http.StatusSeeOther, "/self-service/confirm")
}

// pendingPage shows the enrollment the session has pending: the same key and QR code,
// the same activation code, or where the code was sent, for as long as it waits. With
// none pending, as any step's address opened again.
func (p *selfServicePage) pendingPage(c echo.Context) error {
	sess, err := p.session(c)
	if err != nil || (sess.Kind != lifecycle.SessionLink && sess.Kind != lifecycle.SessionUser) || sess.State.Enrolling == "" {
		return p.reopened(c)
	}
	f, err := p.ss.Pending(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	// What led here (post/redirect/get): emfa's own words, by a fixed key, never a
	// link's, since any site may link to the page; a lock's wait is the factor's.
	texted := f.Destination != ""
	d := pageData{}
	switch {
	case c.QueryParam("sent") == "1":
		d.Notice = "A new code is on its way."
	case c.QueryParam("notsent") == "1" && texted: // "Send a new code" refused: how long, the session says
		d.Error, d.Resend = "No new code was sent. Try again later.", true
		if wait, ok := p.ss.SendWait(sess); ok && wait > 0 {
			d.Error = "No new code was sent: the next one can be sent in " + inWords(wait) + ". Try again then."
		} else if ok {
			d.Error = "No new code was sent then. A new one can be sent now."
		}
	case c.QueryParam("wrong") == "1": // a first code that was not right
		d.Error = "That code did not work. Type the code the app shows now, and confirm again."
		if texted {
			d.Error = "That code did not work. Check the code in the message we sent, and confirm again."
		}
	case c.QueryParam("spent") == "1" && texted: // a sent code that can no longer be used
		d.Error, d.Resend = "That code can no longer be used: it was tried too many times, or it expired. Send a new code, and type it.", true
	case c.QueryParam("locked") == "1": // too many wrong codes: for how long, the factor says
		if wait := p.ss.FactorLockedFor(f); wait > 0 {
			d.Error = "Too many wrong codes: this set-up is locked for " + inWords(wait) +
				". Wait until then, and type the code the app shows then."
			if texted {
				d.Error = "Too many wrong codes: this set-up is locked for " + inWords(wait) +
					". Wait until then, then send a new code and type it."
			}
		}
		d.Resend = texted // the lock over, a texted code may have expired meanwhile
	}
	return p.showPending(c, sess, f, http.StatusOK, d)
}

// showPending renders the page of a pending enrollment f with d's error: a push device's
// activation code, or the form of the first code, with what was shown of it (the
// form's sealed token, else the cookie's).
func (p *selfServicePage) showPending(c echo.Context, sess lifecycle.Session, f lifecycle.Factor, status int, d pageData) error {
	d.Title, d.CSRF = "Confirm your new sign-in method", sess.CSRF
	token := c.FormValue("shown")
	sh, qr, ok := p.ss.OpenShown(sess, token)
	if !ok {
		token = p.shownOf(c)
		sh, qr, ok = p.ss.OpenShown(sess, token)
	}
	if sess.State.EnrollType == builtin.TypePush {
		d.Title = "Register your phone"
		if ok && sh.Code != "" {
			d.QR, d.Code, d.Shown = template.URL(qr), sh.Code, token
			return p.render(c, status, "push", d)
		}
		return p.render(c, status, "pushwait", d)
	}
	switch {
	case ok && sh.Code == "":
		d.QR, d.Secret, d.Shown = template.URL(qr), sh.Secret, token
	case f.Destination != "":
		d.Text = "We sent a code to " + f.Destination + "."
	default:
		// A key this browser can no longer show (its cookie gone): the way to a new one.
		d.Text = "Enter the code your authenticator app shows for this set-up. If you did not add it to the app, start again."
		d.Back, d.BackText = "/self-service/enroll", "Start again with a new key"
	}
	d.Factor = f.ID
	return p.render(c, status, "confirm", d)
}

// shownCookie carries the sealed token of what an enrollment's page shows (SealShown),
// for the page after the redirect: it opens only with the session's key for that
// enrollment, which the browser never holds.
const shownCookie = "emfa_shown"

func (p *selfServicePage) setShown(c echo.Context, token string) {
	c.SetCookie(&http.Cookie{Name: shownCookie, Value: token, Path: "/self-service/", HttpOnly: true,
		Secure: p.secure || c.Request().TLS != nil, SameSite: selfServiceSameSite, MaxAge: int((12 * time.Hour).Seconds())})
}

func (p *selfServicePage) shownOf(c echo.Context) string {
	ck, err := c.Cookie(shownCookie)
	if err != nil || len(ck.Value) > maxShownField {
		return ""
	}
	return ck.Value
}

// ready is the page after a link's enrollment completed (its session ended with it):
// the answer of a redirect, so that a reload shows it again rather than post the code
// again into a session that ended. Only emfa's own words: any site may link here.
func (p *selfServicePage) ready(c echo.Context) error {
	text := "Your new sign-in method is ready: you will be asked for it when you sign in. You may close this page."
	if typ := c.QueryParam("type"); slices.Contains(p.ss.Capabilities(), typ) {
		page, _ := builtin.PageEnrollmentOf(typ)
		text = "Your " + page.Label + " is ready: you will be asked for it when you sign in. You may close this page."
		if typ == builtin.TypePush {
			text = "Your " + page.Label + " is ready: you will be asked to approve on it when you sign in. You may close this page."
		}
	}
	return p.render(c, http.StatusOK, "message", pageData{Title: "You are all set", Text: text})
}

// enrolledAtOnce shows a factor the enrollment made active at once, and what its type
// shows of it once. A link session ended with the enrollment.
func (p *selfServicePage) enrolledAtOnce(c echo.Context, sess lifecycle.Session, out lifecycle.Enrolled) error {
	text := "Your " + out.Factor.Label + " is ready: you will be asked for it when you sign in."
	page, _ := builtin.PageEnrollmentOf(out.Factor.Type)
	if v, ok := out.Output[page.Shown].(string); ok && page.Shown != "" {
		text += " Keep this safe, it is shown only once: " + v
	}
	d := pageData{Title: "You are all set", Text: text}
	if sess.Kind == lifecycle.SessionLink {
		p.clearCookie(c)
	} else {
		d.Back, d.BackText = "/self-service/", "Back to my sign-in methods"
	}
	return p.render(c, http.StatusOK, "message", d)
}

func (p *selfServicePage) confirm(c echo.Context, sess lifecycle.Session) error {
	kind := sess.Kind
	f, err := p.ss.ConfirmFor(c.Request().Context(), &sess, c.FormValue("factor"), typedCode(c.FormValue("code")))
	var le *lifecycle.Error
	if errors.As(err, &le) && (le.Field == "passcode" || le.Field == "code") {
		// A code refused: the same form again, with the same key or QR code, and why.
		return p.confirmAgain(c, sess, le)
	}
	if err != nil {
		return err
	}
	if kind == lifecycle.SessionLink {
		p.clearCookie(c)
		return c.Redirect(http.StatusSeeOther, "/self-service/ready?type="+url.QueryEscape(f.Type))
	}
	p.activated(c, sess)
	// Escaped: a label is the user's words ("R&D #2"), which unescaped ended the query.
	return c.Redirect(http.StatusSeeOther, "/self-service/?done="+url.QueryEscape("Added "+f.Label))
}

// confirmAgain shows the confirm form again after a code that was refused, saying why:
// a wrong code (type it again), a factor locked by too many (wait, and until when), or a
// sent code that can no longer be used (send a new one). Those three are the form again
// by its GET (pendingPage, post/redirect/get), as the sign-in's code form is: a reload,
// Back or Forward does not post the same code again, which would count another try.
func (p *selfServicePage) confirmAgain(c echo.Context, sess lifecycle.Session, le *lifecycle.Error) error {
	why := ""
	switch le.Code {
	case "invalid_passcode":
		why = "wrong"
	case lifecycle.CodeFactorLocked:
		why = "locked"
	case lifecycle.CodeCodeSpent:
		why = "spent"
	}
	if why != "" {
		if token := c.FormValue("shown"); token != "" && token != p.shownOf(c) {
			if _, _, ok := p.ss.OpenShown(sess, token); ok {
				p.setShown(c, token) // the key this form showed, for the page after the redirect
			}
		}
		return c.Redirect(http.StatusSeeOther, "/self-service/confirm?"+why+"=1")
	}
	f, err := p.ss.Pending(c.Request().Context(), sess)
	if err != nil {
		return err
	}
	d := pageData{Error: "That code did not work. Type the code the app shows now, and confirm again."}
	if f.Destination != "" {
		d.Error = "That code did not work. Check the code in the message we sent, and confirm again."
	}
	if le.Code == "missing_field" {
		d.Error = "Code is required: type the code, and confirm."
	}
	return p.showPending(c, sess, f, adminStatus[le.Kind], d)
}

// resend sends the factor being enrolled a new code, within the send limits; when they
// hold, the page says when one can be sent.
func (p *selfServicePage) resend(c echo.Context, sess lifecycle.Session) error {
	ctx := c.Request().Context()
	err := p.ss.Resend(ctx, &sess)
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Code == "activation_not_sent" {
		// The set-up's page by its GET (post/redirect/get), as its refused codes are: a
		// reload posts no resend again, which would count another refusal, or send a code
		// once the limit lapsed without the user asking. The wait is the session's.
		return c.Redirect(http.StatusSeeOther, "/self-service/confirm?notsent=1")
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/self-service/confirm?sent=1")
}

// inWords says a wait as a person does: "30 seconds", "1 minute", "15 minutes".
func inWords(d time.Duration) string {
	if d < time.Minute {
		secs := max(int(math.Ceil(d.Seconds())), 1)
		if secs == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", secs)
	}
	mins := int(math.Ceil(d.Minutes()))
	if mins == 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", mins)
}

// throttledSignIn refuses a sign-in step from an address whose failed page sign-ins
// used up its budget (Server.signIns, apart from the inbound-authentication one so that
// the page's users never throttle Verify's calls), and a user name whose page attempts
// reached their limit (lifecycle's signin_limited): 429 with Retry-After, nothing checked.
// The address budget is per process; the user name's, in the store, holds across replicas.
func (p *selfServicePage) throttledSignIn(c echo.Context, wait time.Duration, text string) error {
	secs := retryAfter(c, wait)
	c.Set(ctxAuthThrottled, true)
	p.s.log.Warn("self-service sign-in throttled", "remote", c.RealIP(), "retry_after_s", secs,
		"request_id", callRequestID(c))
	return p.render(c, http.StatusTooManyRequests, "message", pageData{Title: "Too many attempts", Text: text})
}

// signInAllowed checks the client address's budget before a sign-in step, and holds one
// of its attempts while the step runs: the caller defers end. Steps sent at once from
// one address (a script starting a thousand sign-ins in parallel, each sending a text)
// pass no more than its budget has left, though none has failed yet.
func (p *selfServicePage) signInAllowed(c echo.Context) (end func(), ok bool, err error) {
	ok, wait, end := p.s.signIns.begin(c.RealIP())
	if !ok {
		return end, false, p.throttledSignIn(c, wait, fmt.Sprintf("Too many failed sign-ins from your network: try again in %d seconds.",
			int(math.Ceil(wait.Seconds()))))
	}
	return end, true, nil
}

// signInRefused answers a sign-in step's error: a user name's limit as a throttle, a
// failed sign-in counted against the address; anything else as wrap does. An attempt
// refused by its user name's limit is a failed sign-in too (and one more record of it):
// uncounted, one address could post a limited name's step for ever.
func (p *selfServicePage) signInRefused(c echo.Context, err error) error {
	var le *lifecycle.Error
	switch {
	case errors.As(err, &le) && le.Code == "signin_limited":
		p.s.signIns.failed(c.RealIP())
		return p.throttledSignIn(c, le.RetryAfter, le.Msg)
	case errors.Is(err, lifecycle.ErrSignIn):
		p.s.signIns.failed(c.RealIP())
	}
	return err
}

// signInStarts remembers, for a short while, the sign-ins started from each anonymous
// cookie: the sign-in form posted twice (a double click on Continue) carries the same
// cookie, and answers the first's sign-in again rather than start another, which would
// send a second code (or push) and leave the first code, arriving first, not right.
// Forms of one session run one at a time (formLocks), so the second finds the first's.
type signInStarts struct {
	mu sync.Mutex
	m  map[string]signInStart
}

type signInStart struct {
	user, method, cookie string // what was started, and its sealed cookie
	at                   time.Time
}

// signInAgain is how long a sign-in form posted again answers the first's sign-in.
const signInAgain = 30 * time.Second

// maxSignInStarts bounds signInStarts: past it, old ones go; if none is old, none is kept.
const maxSignInStarts = 4096

func (r *signInStarts) find(from, user, method string, now time.Time) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.m[from]
	if !ok || st.user != user || st.method != method || now.Sub(st.at) >= signInAgain {
		return "", false
	}
	return st.cookie, true
}

func (r *signInStarts) add(from string, st signInStart) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]signInStart{}
	}
	if len(r.m) >= maxSignInStarts {
		for k, v := range r.m {
			if st.at.Sub(v.at) >= signInAgain {
				delete(r.m, k)
			}
		}
		if len(r.m) >= maxSignInStarts {
			return
		}
	}
	r.m[from] = st
}

func (p *selfServicePage) signIn(c echo.Context, sess lifecycle.Session) error {
	if err := signInOver(sess); err != nil {
		return err
	}
	method, user := c.FormValue("method"), c.FormValue("username")
	m, _ := builtin.SignInMethodOf(method) // StartSignIn refuses any other
	form := ""
	if sess.Kind == lifecycle.SessionAnon {
		if next, ok := p.starts.find(sess.Cookie, user, method, time.Now()); ok {
			// The same form again: the same sign-in, nothing sent again.
			p.setCookie(c, lifecycle.Session{Cookie: next})
			return p.signInStarted(c, m)
		}
		form = sess.Cookie
	}
	// The same form posted on another replica too (StartSignInOnce): the one that starts
	// it counts it, sends, and answers; the other answers its sign-in, and counts nothing.
	next, again, err := p.ss.StartSignInOnce(c.Request().Context(), form, user, method, func(ctx context.Context) (string, error) {
		return p.startSignIn(ctx, c, sess, user, method, m)
	})
	var answered signInAnswered
	if errors.As(err, &answered) {
		return answered.err // answered otherwise (throttled, refused): nothing started
	}
	if err != nil {
		return err
	}
	if next != "" && (again || next != sess.Cookie) {
		p.setCookie(c, lifecycle.Session{Cookie: next}) // the sign-in under way, sealed in a cookie of its own
		if !again && form != "" {
			p.starts.add(form, signInStart{user: user, method: method, cookie: next, at: time.Now()})
		}
	}
	return p.signInStarted(c, m)
}

// signInOver refuses a sign-in's form (its start, its code, a push's "continue") posted
// with a session that is not anonymous: a signed-in one, or a link's. The page shows
// neither these forms, so it comes from a form made by hand with that session's token;
// started, the sign-in wrote the name typed over the session's user and its state (a
// set-up under way), sent the name's challenge, and the session, its user no longer its
// row's, ended at its next request, recorded as a user disabled or deleted; a push's
// "continue" cleared the browser's cookie as of a session ended, which lived on in the
// store; a code counted a failed sign-in. Nothing changes now: signing in as someone else
// takes a sign-out first (or, for a link, the sign-in page, which ends its session).
func signInOver(sess lifecycle.Session) error {
	switch sess.Kind {
	case lifecycle.SessionUser:
		return &Error{Status: http.StatusConflict, ID: "signed_in",
			Msg: "you are signed in as " + sess.User + ": sign out first to sign in as someone else"}
	case lifecycle.SessionLink:
		return &Error{Status: http.StatusConflict, ID: "signed_in",
			Msg: "this browser is setting up sign-in verification for " + sess.User + ": finish that first, or open the sign-in page to sign in instead"}
	}
	return nil
}

// signInAnswered is a sign-in form that started nothing (its budgets refused it, or
// StartSignIn did): err is what the handler answers.
type signInAnswered struct{ err error }

func (a signInAnswered) Error() string {
	if a.err == nil {
		return "sign-in not started"
	}
	return a.err.Error()
}

func (a signInAnswered) Unwrap() error { return a.err }

// startSignIn starts the sign-in of the form (budgets, then StartSignIn) and returns its
// sealed cookie; signInAnswered when it started none.
func (p *selfServicePage) startSignIn(ctx context.Context, c echo.Context, sess lifecycle.Session, user, method string, m builtin.SignInMethod) (string, error) {
	end, ok, err := p.signInAllowed(c)
	defer end()
	if !ok {
		return "", signInAnswered{err}
	}
	if m.By != builtin.SignInByCode {
		// Its code or push goes out after the answer (pageSends), whose time then tells
		// nothing of whether the name has such a factor.
		var done func()
		if ctx, done, ok, err = p.sendPlace(c, ctx); !ok {
			return "", signInAnswered{err}
		}
		defer done()
	}
	if err := p.ss.StartSignIn(ctx, &sess, user, method); err != nil {
		return "", signInAnswered{p.signInRefused(c, err)}
	}
	if m.By != builtin.SignInByCode {
		// An approval asked for, or a code sent (a text, an e-mail, a call), reaches
		// someone's phone or mailbox whatever comes of it: it takes from the address's
		// budget as a failure does, so that one client cannot pester many users, nor use
		// up the send limits their codes on Verify's path share.
		p.s.signIns.failed(c.RealIP())
	}
	return sess.Cookie, nil
}

// signInStarted leads to the step of a sign-in started by method m.
func (p *selfServicePage) signInStarted(c echo.Context, m builtin.SignInMethod) error {
	if m.By == builtin.SignInByApproval {
		return c.Redirect(http.StatusSeeOther, "/self-service/signin/approve")
	}
	return c.Redirect(http.StatusSeeOther, "/self-service/signin/code")
}

// signInStep shows the sign-in under way in the session's cookie: the form for its code,
// or the number to approve on the phone; the page otherwise. It writes nothing and sends
// nothing, so a reload or Back is harmless.
func (p *selfServicePage) signInStep(c echo.Context) error {
	sess, err := p.session(c)
	m, ok := builtin.SignInMethodOf(sess.State.Method)
	if err != nil || sess.Kind != lifecycle.SessionAnon || sess.State.User == "" || !ok {
		return c.Redirect(http.StatusSeeOther, "/self-service/")
	}
	if m.By == builtin.SignInByApproval {
		d := pageData{Title: "Approve on your phone", CSRF: sess.CSRF, Number: sess.State.Number}
		if c.QueryParam("pending") == "1" { // "continue" before the phone approved
			d.Error = "Not approved yet: approve the request on your phone, then continue."
		}
		return p.render(c, http.StatusOK, "signinpush", d)
	}
	// What led here, as the set-up page's ?sent=1 says it: emfa's own words, by a fixed
	// key, never a link's, since any site may link to the page.
	d := signInCodeForm(sess)
	switch {
	case c.QueryParam("sent") == "1": // a new code was requested
		d.Notice = "A new code is on its way, if this account has such a sign-in method."
	case c.QueryParam("wrong") == "1": // the code typed was not right
		d.Error = wrongCodeText
		if n, ok := sess.TriesLeft(); ok {
			d.Error += fmt.Sprintf(" %d %s left.", n, plural(n, "try", "tries"))
		}
	case c.QueryParam("spent") == "1": // the code can no longer be used
		d.Text, d.Resend, d.Error = "", true, codeSpentText
	case c.QueryParam("locked") == "1": // the method was locked: for how long, the sign-in says
		if wait, found := p.ss.LockedFor(sess); found && wait > 0 {
			d.Text, d.Resend, d.Error = "", true, lockedText(wait)
		} else if found { // the lock is over: the code was used up meanwhile
			d.Text, d.Resend, d.Error = "", true, codeSpentText
		}
	}
	return p.render(c, http.StatusOK, "signincode", d)
}

// codeSpentText is what the code form says of a code mistyped too often, or expired.
const codeSpentText = "That code can no longer be used: it was mistyped too many times, or it expired. Request a new code."

// lockedText is what the code form says of a method locked for d.
func lockedText(d time.Duration) string {
	return "Too many wrong codes were typed for this sign-in method: it is locked for " + inWords(d) +
		". Wait until then, then request a new code."
}

// wrongCodeText is what the code form says of a code that was not right.
const wrongCodeText = "That code is not right. Try again."

// signInCodeForm is the code form of the sign-in under way in sess, asking in its method's
// words.
func signInCodeForm(sess lifecycle.Session) pageData {
	m, _ := builtin.SignInMethodOf(sess.State.Method)
	return pageData{Title: "Enter your code", CSRF: sess.CSRF, Text: m.Prompt}
}

func (p *selfServicePage) signInCode(c echo.Context, sess lifecycle.Session) error {
	if err := signInOver(sess); err != nil {
		return err
	}
	end, ok, err := p.signInAllowed(c)
	defer end()
	if !ok {
		return err
	}
	cookie := sess.Cookie
	next, err := p.ss.FinishSignIn(c.Request().Context(), &sess, typedCode(c.FormValue("code")))
	if sess.Cookie != cookie {
		p.setCookie(c, sess) // the sign-in goes on: its mistyped codes counted, sealed anew
	}
	var le *lifecycle.Error
	if errors.As(err, &le) && le.Field == "code" {
		// A code refused keeps the sign-in: the form again, and what to do. A code that was
		// only not right is the form again by its GET, so that a reload does not type the
		// same wrong code again and count another try.
		p.s.signIns.failed(c.RealIP())
		if le.Code == lifecycle.CodeWrongCode {
			return c.Redirect(http.StatusSeeOther, "/self-service/signin/code?wrong=1")
		}
		return p.signInCodeAgain(c, sess, le)
	}
	if err != nil {
		return p.signInRefused(c, err)
	}
	p.setCookie(c, next)
	return c.Redirect(http.StatusSeeOther, "/self-service/")
}

// signInCodeAgain shows the sign-in's code form again after a code refused for more than a
// typing mistake (signInStep shows that one), saying why: no longer usable (mistyped too
// often, or expired: request a new one), or a factor locked meanwhile (wait).
func (p *selfServicePage) signInCodeAgain(c echo.Context, sess lifecycle.Session, le *lifecycle.Error) error {
	// Spent and locked are the form again by its GET too, saying so: a reload types no code.
	switch le.Code {
	case lifecycle.CodeCodeSpent:
		return c.Redirect(http.StatusSeeOther, "/self-service/signin/code?spent=1")
	case lifecycle.CodeFactorLocked: // how long: the sign-in keeps when the lock ends
		return c.Redirect(http.StatusSeeOther, "/self-service/signin/code?locked=1")
	}
	d := signInCodeForm(sess)
	d.Error = wrongCodeText
	return p.render(c, adminStatus[le.Kind], "signincode", d)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// signInResend starts the sign-in under way again, with the user name and method it was
// started with: a new code, within the send limits, and its tries afresh.
func (p *selfServicePage) signInResend(c echo.Context, sess lifecycle.Session) error {
	m, ok := builtin.SignInMethodOf(sess.State.Method)
	if sess.Kind != lifecycle.SessionAnon || !ok || m.By != builtin.SignInBySentCode || sess.State.User == "" {
		return c.Redirect(http.StatusSeeOther, "/self-service/")
	}
	end, ok, err := p.signInAllowed(c)
	defer end()
	if !ok {
		return err
	}
	ctx, done, ok, err := p.sendPlace(c, c.Request().Context()) // sent after the answer, as the first (startSignIn)
	defer done()
	if !ok {
		return err
	}
	if err := p.ss.StartSignIn(ctx, &sess, sess.State.User, sess.State.Method); err != nil {
		return p.signInRefused(c, err)
	}
	p.s.signIns.failed(c.RealIP()) // a code sent again, as the first (signIn)
	p.setCookie(c, sess)
	return c.Redirect(http.StatusSeeOther, "/self-service/signin/code?sent=1")
}

func (p *selfServicePage) rename(c echo.Context, sess lifecycle.Session) error {
	if _, err := p.ss.Rename(c.Request().Context(), sess, c.Param("factor"), c.FormValue("label")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/self-service/?done=Renamed")
}

func (p *selfServicePage) remove(c echo.Context, sess lifecycle.Session) error {
	id := c.Param("factor")
	if err := p.ss.Remove(c.Request().Context(), sess, id); err != nil {
		return err
	}
	if id == sess.SignedInWith() {
		// The session ended with the factor that proved it (in the removal's commit): the
		// sign-in form that follows says why, rather than a silent sign-out.
		return c.Redirect(http.StatusSeeOther, "/self-service/?done="+doneRemovedProof)
	}
	return c.Redirect(http.StatusSeeOther, "/self-service/?done=Removed")
}

func (p *selfServicePage) signOut(c echo.Context, sess lifecycle.Session) error {
	// A session the store did not end lives on, for whoever holds a copy of its cookie: the
	// person hears so, and keeps the cookie to sign out again, rather than "signed out".
	if err := p.ss.End(c.Request().Context(), sess); err != nil {
		return err
	}
	p.clearCookie(c)
	return c.Redirect(http.StatusSeeOther, "/self-service/?done="+doneSignedOut)
}

// typedCode is a code as typed, without the spaces and dashes (of any kind: "123–456")
// an app or a message groups its digits with ("123 456"), and with the digits of another
// script that a phone's keyboard may type (Arabic-Indic, Persian, full-width) read as the
// ASCII ones they are: as typed, it would fail and count toward the lockout.
func typedCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r) || unicode.Is(unicode.Pd, r):
			return -1
		case r > unicode.MaxASCII && unicode.IsDigit(r):
			// Unicode encodes each script's decimal digits as one run of 0 to 9, and
			// runs that touch (the mathematical digits) are whole runs: the digit's value
			// is its distance from the start of the touching runs, modulo 10.
			start := r
			for unicode.IsDigit(start - 1) {
				start--
			}
			return '0' + (r-start)%10
		}
		return r
	}, code)
}

func pushQR(out map[string]any) (template.URL, bool) {
	qr, ok := out["qrCode"].(string)
	if !ok || !strings.HasPrefix(qr, "data:image/png;base64,") {
		return "", false
	}
	return template.URL(qr), true
}

// jsonSession is the session of a status request: its cookie and, in a header, its CSRF
// token (the script reads it from the page's form), so no other site can poll.
func (p *selfServicePage) jsonSession(c echo.Context) (lifecycle.Session, error) {
	sess, err := p.session(c)
	if err != nil {
		return sess, err
	}
	return sess, p.ss.CheckCSRF(sess, c.Request().Header.Get("X-CSRF-Token"))
}

func (p *selfServicePage) jsonError(c echo.Context, err error) error {
	var le *lifecycle.Error
	if errors.As(err, &le) {
		return c.JSON(adminStatus[le.Kind], map[string]string{"error": le.Code, "message": le.Msg})
	}
	p.s.log.Error("self-service fault", "path", c.Path(), "err", err)
	return c.JSON(http.StatusServiceUnavailable, map[string]string{"error": "unavailable", "message": "please try again later"})
}

// pushStatus answers {"state":"pending"|"active"} for the push device being enrolled.
func (p *selfServicePage) pushStatus(c echo.Context) error {
	sess, err := p.jsonSession(c)
	if err == nil {
		var state string
		if state, err = p.ss.PushStatus(c.Request().Context(), sess); err == nil {
			return c.JSON(http.StatusOK, map[string]string{"state": state})
		}
	}
	return p.jsonError(c, err)
}

// pushContinue finishes a push enrollment once the device registered (the script posts
// it, or the user's "continue" button); before, the page says so and shows the code again.
func (p *selfServicePage) pushContinue(c echo.Context, sess lifecycle.Session) error {
	kind := sess.Kind
	state, f, err := p.ss.FinishPush(c.Request().Context(), &sess)
	if err != nil {
		return err
	}
	if state != lifecycle.PushActive {
		d := pageData{Title: "Register your phone", CSRF: sess.CSRF,
			Error: "Your phone has not registered yet: scan the code with the app, then continue."}
		if sh, qr, ok := p.ss.OpenShown(sess, c.FormValue("shown")); ok && sh.Code != "" {
			d.QR, d.Code, d.Shown = template.URL(qr), sh.Code, c.FormValue("shown")
			return p.render(c, http.StatusOK, "push", d)
		}
		// No code to show again (a form from before): the way back to a new one.
		return p.render(c, http.StatusOK, "pushwait", d)
	}
	if kind == lifecycle.SessionLink {
		p.clearCookie(c)
		return c.Redirect(http.StatusSeeOther, "/self-service/ready?type="+url.QueryEscape(f.Type))
	}
	p.activated(c, sess)
	// Escaped: a label is the user's words ("R&D #2"), which unescaped ended the query.
	return c.Redirect(http.StatusSeeOther, "/self-service/?done="+url.QueryEscape("Added "+f.Label))
}

// signInStatus answers {"state":"pending"|"success"|"denied"|"timeout"} for a push sign-in.
func (p *selfServicePage) signInStatus(c echo.Context) error {
	sess, err := p.jsonSession(c)
	if err == nil {
		var state string
		if state, err = p.ss.PushSignInStatus(c.Request().Context(), sess); err == nil {
			return c.JSON(http.StatusOK, map[string]string{"state": state})
		}
	}
	return p.jsonError(c, err)
}

func (p *selfServicePage) signInContinue(c echo.Context, sess lifecycle.Session) error {
	if err := signInOver(sess); err != nil {
		return err
	}
	// A step of a sign-in as the code's is, under the address's budget: the sealed cookie
	// of a sign-in whose push ended still opens until its own end, and each post of it
	// ends it again, recorded.
	end, ok, err := p.signInAllowed(c)
	defer end()
	if !ok {
		return err
	}
	cookie := sess.Cookie
	state, next, err := p.ss.FinishPushSignIn(c.Request().Context(), &sess)
	if sess.Cookie != cookie && err != nil {
		p.setCookie(c, sess) // the challenge is over: its sealed state goes with it
	}
	if err != nil {
		var le *lifecycle.Error
		if errors.As(err, &le) && (le.Code == "push_denied" || le.Code == "push_timeout") {
			p.s.signIns.failed(c.RealIP()) // a sign-in that failed, as a wrong code's
			// The sign-in form again, saying why, by its GET (post/redirect/get): a reload
			// posts nothing again.
			return c.Redirect(http.StatusSeeOther, "/self-service/?ended="+strings.TrimPrefix(le.Code, "push_"))
		}
		return err
	}
	if state == lifecycle.SignInPending {
		// Back to the approval's address (post/redirect/get): a reload asks nothing again.
		return c.Redirect(http.StatusSeeOther, "/self-service/signin/approve?pending=1")
	}
	p.setCookie(c, next)
	return c.Redirect(http.StatusSeeOther, "/self-service/")
}
