package main

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emfa/emfa/internal/duosign"
)

// The DUO-shaped stub: the four Auth API v2 calls testdata/config/duo.yaml makes
// (GET /auth/v2/check, POST /auth/v2/preauth, POST /auth/v2/auth, GET /auth/v2/auth_status),
// each answered with fixed JSON. It checks the integration key and the HMAC signature (one
// HMAC-SHA1, about a microsecond) so that a mediator that signs wrongly shows up as errors,
// but not the Date's skew, and it keeps no state beyond a transaction counter.

// stubDevice is the one device every user has: a phone that can push, receive SMS and
// show Duo Mobile passcodes. IBM's mapping makes three enrollments of it (push, smsotp,
// hotp; "auto" is dropped).
const stubDevice = "DPBENCH0000000000001"

var (
	stubPreauth = []byte(`{"stat":"OK","response":{"result":"auth","status_msg":"Account is active","devices":[` +
		`{"device":"` + stubDevice + `","type":"phone","name":"Bench phone","number":"XXX-XXX-0100",` +
		`"capabilities":["auto","push","sms","mobile_otp"]}]}}`)
	stubAllow = []byte(`{"stat":"OK","response":{"result":"allow","status":"allow","status_msg":"Success. Logging you in..."}}`)
)

type stub struct {
	ikey, skey string
	verify     bool
	prefix     string // makes txids unique across stub runs
	txn        atomic.Uint64
}

func newStub(ikey, skey string, verify bool) *stub {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &stub{ikey: ikey, skey: skey, verify: verify, prefix: hex.EncodeToString(b)}
}

func (s *stub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var params url.Values
	var err error
	if r.Method == http.MethodGet {
		params, err = url.ParseQuery(r.URL.RawQuery)
	} else {
		var body []byte
		body, err = io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err == nil {
			params, err = url.ParseQuery(string(body))
		}
	}
	if err != nil {
		stubWrite(w, http.StatusBadRequest, []byte(`{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`))
		return
	}
	if s.verify && !s.authentic(r, params) {
		stubWrite(w, http.StatusUnauthorized, []byte(`{"stat":"FAIL","code":40103,"message":"Invalid signature in request credentials"}`))
		return
	}
	switch r.Method + " " + r.URL.Path {
	case "GET /auth/v2/check":
		stubWrite(w, http.StatusOK, []byte(`{"stat":"OK","response":{"time":`+strconv.FormatInt(time.Now().Unix(), 10)+`}}`))
	case "POST /auth/v2/preauth":
		if params.Get("username") == "" {
			stubWrite(w, http.StatusBadRequest, []byte(`{"stat":"FAIL","code":40002,"message":"Invalid request parameters","message_detail":"username"}`))
			return
		}
		stubWrite(w, http.StatusOK, stubPreauth)
	case "POST /auth/v2/auth":
		if params.Get("username") == "" || params.Get("factor") == "" {
			stubWrite(w, http.StatusBadRequest, []byte(`{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`))
			return
		}
		if params.Get("async") == "1" {
			txid := s.prefix + "-" + strconv.FormatUint(s.txn.Add(1), 10)
			stubWrite(w, http.StatusOK, []byte(`{"stat":"OK","response":{"txid":"`+txid+`"}}`))
			return
		}
		stubWrite(w, http.StatusOK, stubAllow) // a passcode, or a synchronous push
	case "GET /auth/v2/auth_status":
		stubWrite(w, http.StatusOK, stubAllow)
	default:
		stubWrite(w, http.StatusNotFound, []byte(`{"stat":"FAIL","code":40401,"message":"Resource not found"}`))
	}
}

// authentic checks Basic ikey:signature over DUO's canonical string, with the Date as sent.
func (s *stub) authentic(r *http.Request, params url.Values) bool {
	ikey, sig, ok := r.BasicAuth()
	date := r.Header.Get("Date")
	if !ok || ikey != s.ikey || date == "" {
		return false
	}
	want := duosign.Signature(s.skey, duosign.Canonical(date, r.Method, r.Host, r.URL.Path, params))
	return hmac.Equal([]byte(sig), []byte(want))
}

func stubWrite(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
