package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceBehindAPathPrefix: emfa reached by phones under a path
// (serverURL https://host/mfa, a proxy that strips /mfa before emfa, which routes at its
// root). `emfa device` registered through the prefix, then signed the path with it, which
// emfa never saw: every signed call was a 401, and the device could never answer.
func TestDeviceBehindAPathPrefix(t *testing.T) {
	app, enrolled, base := alicesPushServe(t)
	target, _ := url.Parse(base)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.StripPrefix("/mfa", rp))
	defer proxy.Close()

	state := filepath.Join(t.TempDir(), "phone.json")
	app.must(t, "device", "register", "--code", proxy.URL+"/mfa/v1/devices/register#code="+enrolled.ActivationCode, "--state", state)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	code, data := sim.call("POST", "initiate", fmt.Sprintf(`{"capability":"emfa:push","id":%q,"attributes":{"username":"alice"}}`, enrolled.ID))
	var out struct {
		TransactionID string
		Attributes    struct{ Number int }
	}
	if sim.status(code, data) != "PENDING" || json.Unmarshal(data, &out) != nil {
		t.Fatalf("initiate: %s", data)
	}
	exit, stdout, errOut := app.run(t, "device", "pending", "--state", state)
	if exit != 0 || !strings.Contains(stdout, out.TransactionID) {
		t.Fatalf("pending through the prefix: exit %d %s %s", exit, stdout, errOut)
	}
	exit, stdout, errOut = app.run(t, "device", "approve", out.TransactionID, "--number", fmt.Sprint(out.Attributes.Number), "--state", state)
	if exit != 0 || !strings.Contains(stdout, "SUCCESS") {
		t.Fatalf("approve through the prefix: exit %d %s %s", exit, stdout, errOut)
	}
	if s, _ := sim.challenge("result", "push", enrolled.ID, "alice", out.TransactionID, ""); s != "SUCCESS" {
		t.Errorf("result: %s", s)
	}
}
