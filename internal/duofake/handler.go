package duofake

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"testing"
)

// maxBody bounds request bodies; DUO's parameters are short.
const maxBody = 64 << 10

// response is an answer before it is written, so faults can drip or cut it.
type response struct {
	status int
	body   []byte
	reject string // why the request was refused; "" when served
}

func ok(v any) response {
	return encode(http.StatusOK, map[string]any{"stat": "OK", "response": v}, "")
}

func fail(status, code int, message, detail, reason string) response {
	v := map[string]any{"stat": "FAIL", "code": code, "message": message}
	if detail != "" {
		v["message_detail"] = detail
	}
	return encode(status, v, reason)
}

func unauthorized(code int, message, reason string) *response {
	r := fail(http.StatusUnauthorized, code, message, "", reason)
	return &r
}

// badParam is DUO's answer to a missing or invalid parameter.
func badParam(name, reason string) response {
	return fail(http.StatusBadRequest, 40002, "Invalid request parameters", name, reason)
}

func encode(status int, v any, reason string) response {
	b, err := json.Marshal(v)
	if err != nil {
		panic("duofake: " + err.Error())
	}
	return response{status: status, body: b, reject: reason}
}

func (s *Server) serveHTTP(t testing.TB, w http.ResponseWriter, r *http.Request) {
	s.enter()
	defer s.leave()

	body, readErr := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	rec := Recorded{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Body:   body,
		Header: r.Header.Clone(),
	}
	if r.Method == http.MethodPost && isForm(r) {
		if form, err := url.ParseQuery(string(body)); err == nil {
			rec.Form = form
		}
	}
	idx := s.record(rec)

	var resp response
	if f, ok := s.takeFault(r.URL.Path); ok {
		resp = f.serve(s, w, r, func() response { return s.answer(r, body, readErr) })
	} else {
		resp = s.answer(r, body, readErr)
		writeResponse(w, resp)
	}
	if resp.reject != "" {
		t.Logf("duofake: %s %s answered %d: %s", r.Method, r.URL.Path, resp.status, resp.reject)
	}
	s.mu.Lock()
	s.requests[idx].Status = resp.status
	s.requests[idx].Reject = resp.reject
	s.mu.Unlock()
}

func (s *Server) record(rec Recorded) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, rec)
	return len(s.requests) - 1
}

func writeResponse(w http.ResponseWriter, resp response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// answer checks and serves one request in DUO's order: parameters must be decodable, the
// request authentic, the route and method known, then the call's own parameters valid.
func (s *Server) answer(r *http.Request, body []byte, readErr error) response {
	if readErr != nil {
		return fail(http.StatusRequestEntityTooLarge, 41301, "Request entity too large", "", "body: "+readErr.Error())
	}
	var params url.Values
	var err error
	if r.Method == http.MethodGet || r.Method == http.MethodDelete {
		params, err = url.ParseQuery(r.URL.RawQuery)
	} else {
		if !isForm(r) {
			return badParam("Content-Type", "a "+r.Method+" must carry an application/x-www-form-urlencoded body, got Content-Type "+r.Header.Get("Content-Type"))
		}
		params, err = url.ParseQuery(string(body))
	}
	if err != nil {
		return badParam("params", "undecodable parameters: "+err.Error())
	}
	if denied := s.authenticate(r, params); denied != nil {
		return *denied
	}

	type route struct {
		method string
		serve  func(url.Values) response
	}
	routes := map[string]route{
		"/auth/v2/check":       {http.MethodGet, s.check},
		"/auth/v2/preauth":     {http.MethodPost, s.preauth},
		"/auth/v2/auth":        {http.MethodPost, s.auth},
		"/auth/v2/auth_status": {http.MethodGet, s.authStatus},
	}
	rt, found := routes[r.URL.Path]
	if !found {
		return fail(http.StatusNotFound, 40401, "Resource not found", "", "unknown path")
	}
	if r.Method != rt.method {
		return fail(http.StatusMethodNotAllowed, 40501, "Method not allowed", "", rt.method+" only")
	}
	return rt.serve(params)
}

func (s *Server) check(url.Values) response {
	return ok(map[string]any{"time": s.opts.Clock().Unix()})
}

type deviceJSON struct {
	Device       string   `json:"device"`
	Type         string   `json:"type"`
	Name         string   `json:"name"`
	Number       string   `json:"number,omitempty"`
	DisplayName  string   `json:"display_name,omitempty"`
	Capabilities []string `json:"capabilities,omitempty"`
}

func (s *Server) preauth(params url.Values) response {
	username := params.Get("username")
	if username == "" {
		return badParam("username", "preauth needs username")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, known := s.users[username]
	switch {
	case known && u.lockedOut:
		return ok(map[string]any{"result": "deny", "status_msg": LockedOut.StatusMsg})
	case !known || len(u.devices) == 0:
		return ok(map[string]any{
			"result":            "enroll",
			"status_msg":        "Enroll an authentication device to proceed",
			"enroll_portal_url": s.URL() + "/portal?code=enroll",
		})
	}
	devices := make([]deviceJSON, len(u.devices))
	for i, d := range u.devices {
		devices[i] = deviceJSON{d.ID, d.Type, d.Name, d.Number, d.DisplayName, d.Capabilities}
	}
	return ok(map[string]any{"result": "auth", "status_msg": "Account is active", "devices": devices})
}

func (s *Server) auth(params url.Values) response {
	username := params.Get("username")
	if username == "" {
		return badParam("username", "auth needs username")
	}
	factor := params.Get("factor")
	if factor == "" {
		return badParam("factor", "auth needs factor")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, known := s.users[username]
	if !known {
		return badParam("username", "unknown user "+username)
	}

	switch factor {
	case "passcode":
		passcode := params.Get("passcode")
		if passcode == "" {
			return badParam("passcode", "factor=passcode needs passcode")
		}
		if u.lockedOut {
			return stepResponse(LockedOut)
		}
		for i, p := range u.passcodes {
			if p == passcode {
				u.passcodes = append(u.passcodes[:i:i], u.passcodes[i+1:]...)
				return stepResponse(Allow)
			}
		}
		return stepResponse(Step{Result: "deny", Status: "deny", StatusMsg: "Incorrect passcode. Please try again."})
	case "push", "phone", "sms", "auto":
	default:
		return badParam("factor", "unsupported factor "+factor)
	}

	device := params.Get("device")
	if device == "" {
		return badParam("device", "factor="+factor+" needs device")
	}
	if !u.hasDevice(device, factor) {
		return badParam("device", "user has no device "+device+" with capability "+factor)
	}
	var async bool
	switch params.Get("async") {
	case "1":
		async = true
	case "", "0":
	default:
		return badParam("async", "async must be 1 or absent")
	}

	var steps []Step
	switch {
	case u.lockedOut:
		steps = []Step{LockedOut}
	case factor == "sms":
		code := newPasscode()
		u.sms = append(u.sms, code)
		u.passcodes = append(u.passcodes, code)
		steps = []Step{SMSSent}
	case len(u.scripts) > 0:
		steps = u.scripts[0]
		u.scripts = u.scripts[1:]
	default:
		steps = []Step{Allow}
	}

	if !async {
		// A synchronous auth answers once the user has acted: the first step that ends it.
		for _, st := range steps {
			if st.Result != "waiting" {
				return stepResponse(st)
			}
		}
		return stepResponse(steps[len(steps)-1])
	}
	txid := newTxid()
	s.txns[txid] = &txn{steps: steps}
	return ok(map[string]any{"txid": txid})
}

// hasDevice reports whether the user has device (or, for "auto", any device) with capability.
func (u *user) hasDevice(device, capability string) bool {
	for _, d := range u.devices {
		if device != "auto" && d.ID != device {
			continue
		}
		for _, c := range d.Capabilities {
			if c == capability {
				return true
			}
		}
	}
	return false
}

func (s *Server) authStatus(params url.Values) response {
	txid := params.Get("txid")
	if txid == "" {
		return badParam("txid", "auth_status needs txid")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, found := s.txns[txid]
	if !found {
		return badParam("txid", "unknown txid "+txid)
	}
	st := tx.steps[min(tx.polls, len(tx.steps)-1)]
	tx.polls++
	return stepResponse(st)
}

func stepResponse(st Step) response {
	return ok(map[string]any{"result": st.Result, "status": st.Status, "status_msg": st.StatusMsg})
}
