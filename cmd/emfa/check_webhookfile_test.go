package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeWebhookConfig writes a configuration whose remote provider reads webhook (the
// file's JSON) with its placeholders' values, and returns both paths.
func writeWebhookConfig(t *testing.T, webhook string, extra string) (cfgPath, hookPath string) {
	t.Helper()
	dir := t.TempDir()
	hookPath = filepath.Join(dir, "vendor.json")
	cfgPath = filepath.Join(dir, "emfa.yaml")
	if err := os.WriteFile(hookPath, []byte(webhook), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(`server:
  auth:
    basic: {username: verify, password: a-strong-password-0123}
storage: {dsn: ":memory:", encryptionKey: "`+testEncryptionKey+`"}
providers:
  - name: Vendor
    credentialPrefix: vendor
    capabilities: [push]
    engine: remote
    remote:
      webhookFile: vendor.json
      values: {vendor_url: "https://vendor.example", a_very_long_placeholder_value: "x"}
`+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, hookPath
}

// A problem inside a webhookFile (IBM's webhook JSON) is said at the file's line and
// column, as a YAML problem is said at its line, and names the configuration's
// webhookFile: it was said as "emfa.yaml: providers[0] (vendor).remote from vendor.json
// .resources.enrollments...", with no line in a file of hundreds. Placeholders do not move
// it: it is placed in the file as written.
func TestCheckPlacesWebhookFileProblems(t *testing.T) {
	for _, tc := range []struct {
		name, webhook string
		want          []string // after the file's path
	}{{
		name: "a transform that does not compile, a resource emfa does not call",
		webhook: `{
  "name": "{{a_very_long_placeholder_value}}",
  "urls": ["{{vendor_url}}"],
  "resources": {
    "enrollments": {"transform": {"outgoing": "statement.not.cel ((", "incoming": "{'a': 1}"}},
    "bogus": {"transform": {}}
  }
}`,
		want: []string{ // in the file's order
			`:5:35: resources.enrollments.transform.outgoing: 1:21: Syntax error`,
			`:5:71: resources.enrollments.transform.incoming: 1:1: `,
			`:6:5: resources.bogus: not a resource emfa calls`,
		},
	}, {
		name: "not JSON",
		webhook: `{
  "name": "{{a_very_long_placeholder_value}}",,
  "urls": ["{{vendor_url}}"]
}`,
		want: []string{`:2:47: not JSON: invalid character ','`},
	}, {
		name: "a value of the wrong kind",
		webhook: `{
  "name": "{{a_very_long_placeholder_value}}",
  "urls": ["{{vendor_url}}"],
  "resources": [1]
}`,
		want: []string{`:4:3: resources: must be an object, not a list`},
	}, {
		// A duration is written as a string: it was said to be a number ("must be a
		// number, not a number"), a Duration being an int64 to Go.
		name: "a duration without its unit",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "timeout": 5
}`,
		want: []string{`:4:3: timeout: must be a duration such as 5s or 1m30s, not a number`},
	}, {
		// A duration that is no duration was said without a line: JSON places only the
		// values it refuses itself, not one a type's own reader refuses.
		name: "a duration that is no duration",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "timeout": "abc"
}`,
		want: []string{`:4:3: timeout: must be a duration such as 5s or 1m30s: time: invalid duration "abc"`},
	}, {
		// A value of a resource (a map's, by its name) is at its own key: it was placed
		// at "resources", the map's name left out of the path JSON reports.
		name: "a value of the wrong kind in a resource",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "resources": {
    "enrollments": {"transform": {"incoming": "{'body': {}}"}},
    "initiate": {
      "transform": {"outgoing": 5}
    }
  }
}`,
		want: []string{`:7:21: resources.initiate.transform.outgoing: must be a string, not a number`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, hook := writeWebhookConfig(t, tc.webhook, "")
			code, _, errOut := emfa(t, "check", "--config", cfg)
			if code != 1 {
				t.Fatalf("check: exit %d\n%s", code, errOut)
			}
			at := -1
			for _, w := range tc.want {
				i := strings.Index(errOut, hook+w)
				if i < 0 || i < at {
					t.Errorf("missing, or out of the file's order: %q\n%s", hook+w, errOut)
				}
				at = i
			}
			if n := strings.Count(errOut, "(providers[0] (vendor).remote.webhookFile in "+cfg+":11)"); n != len(tc.want) {
				t.Errorf("%d problems name the configuration's webhookFile, want %d:\n%s", n, len(tc.want), errOut)
			}
		})
	}
}

// A problem of a key the configuration's remote section sets beside the webhookFile is not
// the file's: it is named by the configuration, as before.
func TestCheckWebhookFileOverrideProblemNamedByTheConfiguration(t *testing.T) {
	cfg, hook := writeWebhookConfig(t, `{"name": "v", "urls": ["{{vendor_url}}"], "resources": {}}`, `      expectedStatus: [99]
`)
	code, _, errOut := emfa(t, "check", "--config", cfg)
	if code != 1 || !strings.Contains(errOut, cfg+": providers[0] (vendor).remote from "+hook+".expectedStatus") {
		t.Errorf("check: exit %d, want the override's problem named by the configuration:\n%s", code, errOut)
	}
	if strings.Contains(errOut, hook+":") {
		t.Errorf("the override's problem is placed in the webhook file:\n%s", errOut)
	}
}

// A key the configuration's remote section sets overrides the file's: a problem of its
// value is the configuration's, even where the file has the key too (with a value that
// is fine). It was placed at the file's key, where the operator found nothing wrong.
func TestCheckWebhookFileOverriddenKeyProblemNotPlacedInTheFile(t *testing.T) {
	file := `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "timeout": "5s",
  "expectedStatus": [200],
  "resources": {}
}`
	for _, tc := range []struct{ extra, want string }{
		{"      expectedStatus: [99]\n", "expectedStatus[0]: 99 is outside 100-599"},
		{"      timeout: 5\n", "timeout: 5 has no unit"},
		{"      Timeout: 5\n", "Timeout: 5 has no unit"},
		{"      urls: [\"ftp://x\"]\n", "urls[0]: not an absolute http or https url"},
	} {
		cfg, hook := writeWebhookConfig(t, file, tc.extra)
		code, _, errOut := emfa(t, "check", "--config", cfg)
		if code != 1 || !strings.Contains(errOut, cfg+": providers[0] (vendor).remote from "+hook+"."+tc.want) {
			t.Errorf("%q: exit %d, want the override's problem named by the configuration:\n%s", tc.extra, code, errOut)
		}
		if strings.Contains(errOut, hook+":") {
			t.Errorf("%q: the override's problem is placed in the webhook file:\n%s", tc.extra, errOut)
		}
	}
}

// A key written twice is read as JSON reads it: the last one's value is the webhook's, and
// a key of another case is the same struct field's (the last wins too), while a map's keys
// (the resources' names) differ by case. A problem was placed at the first one written,
// or at a resource of another case, whose value was fine.
func TestCheckWebhookFileProblemAtTheKeyJSONReads(t *testing.T) {
	for _, tc := range []struct {
		name, webhook string
		want          []string
	}{{
		name: "a key written twice",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "resources": {"enrollments": {"transform": {"outgoing": "{}",
     "outgoing": "bad (("}}}
}`,
		want: []string{`:5:6: resources.enrollments.transform.outgoing: `},
	}, {
		name: "a field written in two cases",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "Resources": {"enrollments": {"transform": {"outgoing": "{}"}}},
  "resources": {"enrollments": {"transform": {"outgoing": "bad (("}}}
}`,
		want: []string{`:5:47: resources.enrollments.transform.outgoing: `},
	}, {
		name: "resources whose names differ in case",
		webhook: `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "resources": {"enrollments": {"transform": {"outgoing": "bad (("}},
  "Enrollments": {"transform": {"outgoing": "also bad (("}}}
}`,
		want: []string{`:4:47: resources.enrollments.transform.outgoing: `, `:5:33: resources.Enrollments.transform.outgoing: `},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, hook := writeWebhookConfig(t, tc.webhook, "")
			code, _, errOut := emfa(t, "check", "--config", cfg)
			if code != 1 {
				t.Fatalf("check: exit %d\n%s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, hook+w) {
					t.Errorf("missing: %q\n%s", hook+w, errOut)
				}
			}
		})
	}
}

// A warning of a webhookFile's transform is said at its key in the file, as its problems
// are: it was said as "emfa.yaml: providers[0] (vendor).remote from vendor.json.resources
// .enrollments.transform.incoming: …", without a line in a file of hundreds.
func TestCheckPlacesWebhookFileWarnings(t *testing.T) {
	cfg, hook := writeWebhookConfig(t, `{
  "name": "v",
  "urls": ["{{vendor_url}}"],
  "resources": {
    "enrollments": {
      "transform": {
        "incoming": "status_code == 200 ? {'body': {}} : {'bdy': {}}"
      }
    }
  }
}`, "")
	code, _, errOut := emfa(t, "check", "--config", cfg)
	want := "warning: " + hook + ":7:9: resources.enrollments.transform.incoming: 1:37: this branch of the incoming transform's result has no body key"
	if code != 0 || !strings.Contains(errOut, want) ||
		!strings.Contains(errOut, "(providers[0] (vendor).remote.webhookFile in "+cfg+":11)") {
		t.Errorf("check: exit %d, want %q, naming the configuration's webhookFile:\n%s", code, want, errOut)
	}
}
