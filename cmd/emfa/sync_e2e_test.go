package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const syncTestConfig = `sync:
  scim: {enabled: true, token: "scim-token-0123456789abcdef0123456789"}
  okta: {enabled: true, secretHeader: {name: X-Okta-Secret, value: "okta-secret-0123456789"}}
  verify: {enabled: true, secretHeader: {name: X-Verify-Secret, value: "verify-secret-0123456789"}}
  settle: 1s
`

func syncPost(t *testing.T, url, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if strings.Contains(url, "/scim/") {
		req.Method = hdr[0]
		hdr = hdr[1:]
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out
}

// TestDirectorySyncEndToEnd is the "done": an Okta event-hook client, an Entra
// shaped SCIM client and a Verify notification sender create, update, disable, reset and
// delete users; duplicates and reordering change nothing; `emfa sync status` shows it.
func TestDirectorySyncEndToEnd(t *testing.T) {
	app := fakeCLI()
	cfg := adminConfig(t, "", syncTestConfig)
	base, _, stop := app.serve(t, "--config", cfg)
	okta := func(events ...string) int {
		code, _ := syncPost(t, base+"/sync/okta", `{"eventType":"com.okta.event_hook","data":{"events":[`+strings.Join(events, ",")+`]}}`,
			"X-Okta-Secret", "okta-secret-0123456789")
		return code
	}
	oev := func(id, typ, login string, sec int) string {
		return fmt.Sprintf(`{"uuid":%q,"published":"2026-05-01T09:00:%02dZ","eventType":%q,"target":[{"type":"User","alternateId":%q,"displayName":"O"}]}`, id, sec, typ, login)
	}
	scim := func(method, path, body string) (int, map[string]any) {
		return syncPost(t, base+"/scim/v2"+path, body, method, "Authorization", "Bearer scim-token-0123456789abcdef0123456789")
	}
	verify := func(id, action, user string) int {
		code, _ := syncPost(t, base+"/sync/verify", fmt.Sprintf(`{"id":%q,"event_type":"management","time":%d,"data":{"resource":"user","action":%q,"username":%q}}`,
			id, app.clock.Now().UnixMilli(), action, user), "X-Verify-Secret", "verify-secret-0123456789", "X-Webhook-ID", id)
		return code
	}
	state := func(user string) string {
		_, list := scim("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+user+`"`), "")
		rs, _ := list["Resources"].([]any)
		if len(rs) == 0 {
			return "absent"
		}
		if rs[0].(map[string]any)["active"] == true {
			return "active"
		}
		return "disabled"
	}
	waitFor := func(user, want string) {
		t.Helper()
		app.clock.Advance(2 * time.Second) // past sync.settle
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if state(user) == want {
				return
			}
		}
		t.Fatalf("%s is %s, want %s", user, state(user), want)
	}

	// Okta: delivered out of order and twice.
	for range 2 {
		if c := okta(oev("o2", "user.lifecycle.suspend", "olga", 2), oev("o1", "user.lifecycle.create", "olga", 1)); c != 204 {
			t.Fatalf("okta: %d", c)
		}
	}
	waitFor("olga", "disabled")
	okta(oev("o3", "user.lifecycle.unsuspend", "olga", 3), oev("o4", "user.mfa.factor.reset_all", "olga", 4))
	waitFor("olga", "active")
	okta(oev("o5", "user.lifecycle.delete.initiated", "olga", 5))
	waitFor("olga", "absent")

	// Entra: create, disable with a string boolean, delete.
	code, u := scim("POST", "/Users", `{"userName":"erin","active":true,"emails":[{"value":"erin@example.com","primary":true}]}`)
	if code != 201 {
		t.Fatalf("scim create: %d %v", code, u)
	}
	id := u["id"].(string)
	scim("PATCH", "/Users/"+id, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	if s := state("erin"); s != "disabled" {
		t.Fatalf("erin %s", s)
	}
	if code, _ := scim("DELETE", "/Users/"+id, ""); code != 204 || state("erin") != "absent" {
		t.Fatalf("scim delete: %d", code)
	}

	// Verify: created, disabled, deleted; a retry of the same id changes nothing.
	verify("v1", "created", "vera")
	waitFor("vera", "active")
	verify("v2", "disabled", "vera")
	waitFor("vera", "disabled")
	verify("v3", "deleted", "vera")
	verify("v1", "created", "vera")
	waitFor("vera", "absent")

	// The last event is applied; wait for the worker to record it done.
	var st struct {
		Counts map[string]map[string]int `json:"counts"`
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out = app.must(t, "sync", "status", "--config", cfg, "--json")
		if err := json.Unmarshal(bytes.TrimSpace([]byte(out)), &st); err != nil {
			t.Fatal(out, err)
		}
		if st.Counts["verify"]["pending"] == 0 {
			break
		}
	}
	stop()
	if st.Counts["okta"]["done"] != 5 || st.Counts["verify"]["done"] != 3 || st.Counts["okta"]["pending"] != 0 {
		t.Fatalf("status %s", out)
	}
	if out := app.must(t, "sync", "dead-letters", "list", "--config", cfg); strings.Count(out, "\n") != 1 {
		t.Fatalf("dead letters:\n%s", out)
	}
}
