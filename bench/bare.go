package main

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emfa/emfa/internal/duosign"
)

// The bare mediator: the least a Go programmer would write to put DUO behind Verify's
// external-MFA contract, as the anchor emfa's DUO mediation is compared to. It serves the
// same endpoints as emfa's provider "duo" (/v1/providers/duo/enrollments, /initiate,
// /validate, /result, /test), checks Verify's Basic credentials, signs each DUO call by hand
// and maps DUO's answer as IBM's transforms (and testdata/config/duo.yaml) do. No CEL, no
// store, no transactions of its own, no logging, no idempotency records.

type bare struct {
	duo        *url.URL
	ikey, skey string
	user, pass string
	client     *http.Client
}

func newBare(duo *url.URL, ikey, skey, user, pass string) *bare {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}
	return &bare{duo: duo, ikey: ikey, skey: skey, user: user, pass: pass,
		client: &http.Client{Transport: tr, Timeout: 5 * time.Second}}
}

// contractRequest is the union of the contract's request bodies.
type contractRequest struct {
	Username      string `json:"username"`
	Capability    string `json:"capability"`
	ID            string `json:"id"`
	TransactionID string `json:"transactionId"`
	Attributes    struct {
		Username  string `json:"username"`
		Passvalue string `json:"passvalue"`
	} `json:"attributes"`
}

type contractAnswer struct {
	Status        string            `json:"status"`
	TransactionID string            `json:"transactionId,omitempty"`
	Attributes    map[string]string `json:"attributes,omitempty"`
}

type enrollment struct {
	Capability string            `json:"capability"`
	ID         string            `json:"id"`
	Attributes map[string]string `json:"attributes"`
}

type duoAnswer struct {
	Stat     string `json:"stat"`
	Response struct {
		TxID    string `json:"txid"`
		Result  string `json:"result"`
		Status  string `json:"status"`
		Devices []struct {
			Device       string   `json:"device"`
			Name         string   `json:"name"`
			Number       string   `json:"number"`
			Capabilities []string `json:"capabilities"`
		} `json:"devices"`
	} `json:"response"`
}

func (b *bare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(b.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(b.pass)) != 1 {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"messageId": "unauthorized", "messageDescription": "bad credentials"})
		return
	}
	step, found := strings.CutPrefix(r.URL.Path, "/v1/providers/duo/")
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"messageId": "not_found", "messageDescription": "no such route"})
		return
	}
	if step == "test" {
		d, err := b.call(r, http.MethodGet, "/auth/v2/check", url.Values{})
		writeJSON(w, http.StatusOK, contractAnswer{Status: okOr(err == nil && d.Stat == "OK", "SUCCESS")})
		return
	}
	var req contractRequest
	if r.Method != http.MethodPost || json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req) != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"messageId": "bad_request", "messageDescription": "a JSON body is required"})
		return
	}
	capability := strings.TrimPrefix(req.Capability, "duo:")
	factor := capability
	if factor == "smsotp" {
		factor = "sms"
	}
	switch step {
	case "enrollments":
		if req.Username == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"messageId": "bad_request", "messageDescription": "username is required"})
			return
		}
		d, err := b.call(r, http.MethodPost, "/auth/v2/preauth", url.Values{"username": {req.Username}})
		out := []enrollment{}
		if err == nil {
			for _, dev := range d.Response.Devices {
				for _, c := range dev.Capabilities {
					e := enrollment{ID: dev.Device, Capability: c,
						Attributes: map[string]string{"deviceName": dev.Name, "deliveryAddress": dev.Number, "authExecutionFlow": "init_then_validate"}}
					switch c {
					case "auto":
						continue
					case "mobile_otp":
						e.Capability, e.Attributes["authExecutionFlow"] = "hotp", "validate"
					case "sms":
						e.Capability = "smsotp"
					case "push":
						e.Attributes["authExecutionFlow"] = "init_then_poll"
					}
					out = append(out, e)
				}
			}
		}
		writeJSON(w, http.StatusOK, out)
	case "initiate":
		d, err := b.call(r, http.MethodPost, "/auth/v2/auth", url.Values{"async": {"1"}, "device": {req.ID},
			"username": {req.Attributes.Username}, "factor": {factor}})
		if err != nil || d.Response.TxID == "" {
			writeJSON(w, http.StatusOK, contractAnswer{Status: "FAILED"})
			return
		}
		writeJSON(w, http.StatusOK, contractAnswer{Status: "PENDING", TransactionID: d.Response.TxID})
	case "validate":
		d, err := b.call(r, http.MethodPost, "/auth/v2/auth", url.Values{"factor": {"passcode"},
			"passcode": {req.Attributes.Passvalue}, "username": {req.Attributes.Username}})
		writeJSON(w, http.StatusOK, contractAnswer{Status: okOr(err == nil && d.Response.Result == "allow", "SUCCESS")})
	case "result":
		d, err := b.call(r, http.MethodGet, "/auth/v2/auth_status", url.Values{"txid": {req.TransactionID}})
		status := "FAILED"
		switch {
		case err != nil:
		case d.Response.Result == "allow":
			status = "SUCCESS"
		case d.Response.Result == "waiting", d.Response.Result == "deny" && d.Response.Status == "sent":
			status = "PENDING"
		case d.Response.Status == "timeout":
			status = "TIMEOUT"
		}
		writeJSON(w, http.StatusOK, contractAnswer{Status: status, Attributes: map[string]string{"status": d.Response.Status}})
	default:
		writeJSON(w, http.StatusNotFound, map[string]string{"messageId": "not_found", "messageDescription": "no such route"})
	}
}

// call signs and sends one DUO call; any transport error, non-2xx status or undecodable
// body is an error (the caller answers FAILED or []).
func (b *bare) call(r *http.Request, method, path string, params url.Values) (duoAnswer, error) {
	var d duoAnswer
	req, err := duosign.Request(b.duo, b.ikey, b.skey, method, path, params, time.Now())
	if err != nil {
		return d, err
	}
	resp, err := b.client.Do(req.WithContext(r.Context()))
	if err != nil {
		return d, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return d, errStatus(resp.StatusCode)
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&d)
	return d, err
}

type errStatus int

func (e errStatus) Error() string { return "DUO answered HTTP " + http.StatusText(int(e)) }

func okOr(cond bool, yes string) string {
	if cond {
		return yes
	}
	return "FAILED"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
