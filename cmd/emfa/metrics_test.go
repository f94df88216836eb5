package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/emfa/emfa/internal/verifyfiles"
)

// scrape reads base/metrics (with token, when set) into "name{label=value,...}" → value,
// labels sorted; histograms as name_count.
func scrape(t *testing.T, base, token string) map[string]float64 {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		if !strings.HasPrefix(name, "emfa_") {
			continue
		}
		for _, m := range f.Metric {
			key := name + labelString(m.Label)
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+labelString(m.Label)] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// scrapeClient opens a connection for each scrape: one kept open would be parked once idle,
// and counted in emfa_http_connections_parked.
var scrapeClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func labelString(ls []*dto.LabelPair) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

// A simulated session moves each counter as it should: contract calls by provider,
// resource, capability and status; vendor calls by outcome; CEL errors; codes sent and
// refused by a send limit; lockouts; refused credentials; retries answered; and no label
// carries a user name, a phone number or a factor ID.
func TestMetricsAfterASession(t *testing.T) {
	duo := newDUO(t)
	webhook := verifyfiles.Path(t, "ibm-duo-webhook.json")
	cfg := writeTestConfig(t, "", fmt.Sprintf(`metrics: {token: "scrape-token-0123456789"}
delivery:
  logsms: {type: log}
providers:
  - name: Built-in factors
    credentialPrefix: emfa
    capabilities: [totp, smsotp]
    engine: builtin
    builtin:
      totp: {window: 0}
      smsotp: {sender: logsms}
      sendLimits: {perUser: [{window: 1h, max: 1}], perDestination: []}
      lockout: {maxFailures: 3, duration: 15m}
  - name: DUO Security
    credentialPrefix: duo
    capabilities: [smsotp, push, hotp]
    engine: remote
    remote:
      webhookFile: %q
      values: {duo_url: %q, duo_integration_key: %s, duo_signing_key: %s}
      timeout: 5s
`, webhook, duo.URL(), duoIKey, duoSKey))
	mustEmfa(t, "users", "add", "alice", "--config", cfg)
	var totp, sms struct{ ID, Secret string }
	jsonMust(t, mustEmfa(t, "factors", "add", "totp", "--user", "alice", "--config", cfg), &totp)
	jsonMust(t, mustEmfa(t, "factors", "add", "smsotp", "--user", "alice", "--phone", "+15551230123", "--config", cfg), &sms)
	base, _ := startServe(t, cfg)

	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Fatalf("/metrics without its token: %v %v", resp, err)
	}
	before := scrape(t, base, "scrape-token-0123456789")
	if before[`emfa_build_info{goversion=`+strings.TrimPrefix(goVersionLabel(before), "")+`,version=`+versionLabel(before)+`}`] != 1 {
		t.Errorf("no emfa_build_info: %v", before)
	}

	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	// Never the live code ("000000" is, for a random secret, once in a million).
	wrong := wrongTOTP(t, totp.Secret, time.Now())
	for range 3 { // the third failure locks the factor
		sim.validate("totp", totp.ID, "alice", wrong)
	}
	sim.step("initiate", "smsotp", sms.ID, "alice", "", "") // sent
	sim.step("initiate", "smsotp", sms.ID, "alice", "", "") // refused: one per hour
	// A retry with the same X-Webhook-ID is answered from its record.
	for range 2 {
		r, _ := http.NewRequest("POST", sim.base+"/validate", strings.NewReader(fmt.Sprintf(`{"capability":"totp","id":%q,"attributes":{"username":"alice","passvalue":%q}}`, totp.ID, wrong)))
		r.SetBasicAuth("verify", "sim-password-0123")
		r.Header.Set("X-Webhook-ID", "wh-1")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	bad := &verifySim{t: t, base: sim.base, user: "verify", pw: "wrong-password-0123"}
	bad.call("POST", "enrollments", `{"username":"alice"}`)

	duoSim := &verifySim{t: t, base: base + "/v1/providers/duo", user: "verify", pw: "sim-password-0123"}
	duoSim.enrollments("alice")
	duoSim.challenge("initiate", "push", aliceID, "alice", "", "")

	after := scrape(t, base, "scrape-token-0123456789")
	moved := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d != 0 && !strings.HasPrefix(k, "emfa_build_info") {
			moved[k] = d
		}
	}
	want := map[string]float64{
		`emfa_contract_calls_total{capability=totp,provider=emfa,resource=validate,status=FAILED}`:    4,
		`emfa_contract_call_duration_seconds_count{resource=validate}`:                                4,
		`emfa_contract_calls_total{capability=smsotp,provider=emfa,resource=initiate,status=PENDING}`: 1,
		`emfa_contract_calls_total{capability=smsotp,provider=emfa,resource=initiate,status=FAILED}`:  1,
		`emfa_contract_calls_total{capability=push,provider=duo,resource=initiate,status=PENDING}`:    1,
		`emfa_contract_call_duration_seconds_count{resource=initiate}`:                                3,
		`emfa_contract_calls_total{capability=,provider=duo,resource=enrollments,status=ok}`:          1,
		`emfa_contract_call_duration_seconds_count{resource=enrollments}`:                             1,
		`emfa_lockouts_total{capability=totp,provider=emfa}`:                                          1,
		`emfa_codes_sent_total{sender=logsms}`:                                                        1,
		`emfa_codes_refused_total{sender=logsms}`:                                                     1,
		`emfa_idempotent_retries_total{provider=emfa,resource=validate}`:                              1,
		`emfa_auth_failures_total{api=contract,reason=unauthorized}`:                                  1,
		`emfa_vendor_calls_total{outcome=ok,provider=duo,resource=enrollments}`:                       1,
		`emfa_vendor_calls_total{outcome=ok,provider=duo,resource=initiate}`:                          1,
		`emfa_vendor_call_duration_seconds_count{provider=duo,resource=enrollments}`:                  1,
		`emfa_vendor_call_duration_seconds_count{provider=duo,resource=initiate}`:                     1,
	}
	for k, v := range want {
		if moved[k] != v {
			t.Errorf("%s moved by %v, want %v", k, moved[k], v)
		}
	}
	for k, v := range moved {
		if _, ok := want[k]; !ok {
			t.Errorf("%s moved by %v unexpectedly", k, v)
		}
		for _, leak := range []string{"alice", "5551230123", totp.ID, sms.ID, aliceID} {
			if strings.Contains(k, leak) {
				t.Errorf("a label carries %q: %s", leak, k)
			}
		}
	}
}

func goVersionLabel(m map[string]float64) string { return buildLabel(m, "goversion=") }
func versionLabel(m map[string]float64) string   { return buildLabel(m, "version=") }

func buildLabel(m map[string]float64, key string) string {
	for k := range m {
		if rest, ok := strings.CutPrefix(k, "emfa_build_info{"); ok {
			for _, part := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
				if v, ok := strings.CutPrefix(part, key); ok {
					return v
				}
			}
		}
	}
	return ""
}

func jsonMust(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%v: %s", err, s)
	}
}
