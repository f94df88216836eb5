package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/emfa/emfa/internal/smtpfake"
	"github.com/emfa/emfa/internal/twiliofake"
)

// TestDefaultCountryReadsNationalNumbers: with lifecycle.defaultCountry, a national phone
// number given to a user's profile or an SMS enrollment is stored in E.164 and the codes
// go there; one that is no number of that country is refused and writes nothing; and a
// country whose national numbers emfa does not read stops the configuration.
func TestDefaultCountryReadsNationalNumbers(t *testing.T) {
	app := fakeCLI()
	mail := smtpfake.Start(t, smtpfake.Options{})
	sms := twiliofake.New(t, twiliofake.Options{AccountSID: twilioSID, AuthToken: twilioToken})
	cfg := codesConfig(t, "", mail, sms)
	appendConfig(t, cfg, "lifecycle:\n  defaultCountry: GB\n")

	app.must(t, "users", "add", "bob", "--phone", "020 7946 0958", "--config", cfg)
	if code, _, errOut := app.run(t, "users", "add", "carol", "--phone", "946 0958", "--config", cfg); code == 0 ||
		!strings.Contains(errOut, `--phone: "946 0958" is not a phone number of GB (lifecycle.defaultCountry)`) {
		t.Errorf("a user with a local number: exit %d %s", code, errOut)
	}
	add := func(args ...string) map[string]any {
		t.Helper()
		var out map[string]any
		if err := json.Unmarshal([]byte(app.must(t, append(append([]string{"factors", "add", "smsotp", "--user", "bob"}, args...), "--config", cfg)...)), &out); err != nil {
			t.Fatalf("factors add %v: %v", args, err)
		}
		return out
	}
	// A number given to the enrollment; Verify's initiate sends the code there, in E.164.
	f := add("--phone", "07700 900123")
	if addr, _ := f["deliveryAddress"].(string); !strings.HasPrefix(addr, "+44 ") || !strings.HasSuffix(addr, "0123") {
		t.Errorf("the enrollment's number: %v", f["deliveryAddress"])
	}
	base, _, stop := app.serve(t, "--config", cfg)
	sim := &verifySim{t: t, base: base + "/v1/providers/emfa", user: "verify", pw: "sim-password-0123"}
	sim.want("initiate", sim.step("initiate", "smsotp", f["id"].(string), "bob", "", ""), "PENDING")
	stop()
	if got := sms.To("+447700900123"); len(got) != 1 {
		t.Errorf("SMS to +447700900123: %d (all: %v)", len(got), sms.Messages())
	}
	// The same number in another form is the same factor.
	if code, _, errOut := app.run(t, "factors", "add", "smsotp", "--user", "bob", "--phone", "+44 (0)7700 900123", "--config", cfg); code == 0 || !strings.Contains(errOut, "already has smsotp factor") {
		t.Errorf("the same number again: exit %d %s", code, errOut)
	}
	// A local number without its area code is no number of GB.
	before := app.must(t, "factors", "list", "--user", "bob", "--config", cfg)
	if code, _, errOut := app.run(t, "factors", "add", "smsotp", "--user", "bob", "--phone", "946 0958", "--config", cfg); code == 0 ||
		!strings.Contains(errOut, "is not a phone number of GB (lifecycle.defaultCountry)") {
		t.Errorf("a local number: exit %d %s", code, errOut)
	}
	if after := app.must(t, "factors", "list", "--user", "bob", "--config", cfg); after != before {
		t.Errorf("the refusal changed bob's factors:\n%s", after)
	}

	for country, says := range map[string]string{
		"UK":  `lifecycle.defaultCountry: "UK" is not an ISO 3166-1 alpha-2 code: that country's is "GB"`,
		"BRA": `lifecycle.defaultCountry: "BRA" is not an ISO 3166-1 alpha-2 code: that country's is "BR"`,
		"XY":  `lifecycle.defaultCountry: "XY" is not a region's ISO 3166-1 alpha-2 code`,
	} {
		bad := codesConfig(t, "", mail, sms)
		appendConfig(t, bad, "lifecycle:\n  defaultCountry: "+country+"\n")
		if code, out, errOut := app.run(t, "check", "--config", bad); code == 0 || !strings.Contains(out+errOut, says) {
			t.Errorf("check with defaultCountry %s: exit %d %s%s", country, code, out, errOut)
		}
	}
}

// TestReloadChangesDefaultCountry: lifecycle.defaultCountry changes at a reload, for the
// admin API (the snapshot's manager) and for directory sync (whose manager outlives the
// snapshots) alike: a national number refused before is read as the new country's after.
func TestReloadChangesDefaultCountry(t *testing.T) {
	const scim = "sync:\n  scim: {enabled: true, token: \"scim-token-0123456789abcdef0123456789\"}\n"
	cfg := adminConfig(t, "", scim)
	base, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := fakeCLI()
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	url, logs, reload := app.reloadingServe(t, cfg)
	scimUser := func(name string) (int, map[string]any) {
		t.Helper()
		return syncPost(t, url+"/scim/v2/Users", `{"userName":"`+name+`","phoneNumbers":[{"type":"mobile","value":"07700 900123"}]}`,
			"POST", "Authorization", "Bearer scim-token-0123456789abcdef0123456789", "Content-Type", "application/scim+json")
	}
	adminUser := func(name string) (int, map[string]any) {
		t.Helper()
		return adminDo(t, url, token, "POST", "/admin/v1/users", `{"name":"`+name+`","phone":"020 7946 0958"}`)
	}
	if code, out := scimUser("ann"); code != 400 {
		t.Errorf("SCIM, a national number without a default country: %d %v", code, out)
	}
	if code, out := adminUser("bea"); code != 400 {
		t.Errorf("admin API, a national number without a default country: %d %v", code, out)
	}

	replaceFile(t, cfg, string(base)+"lifecycle:\n  defaultCountry: GB\n")
	if err := reload(); err != nil {
		t.Fatalf("reload: %v\n%s", err, logs)
	}
	if out := logs.String(); !strings.Contains(out, "reload: lifecycle.defaultCountry changed") || strings.Contains(out, "next restart") {
		t.Errorf("the reload's words:\n%s", grepLines(out, "reload"))
	}
	if code, out := scimUser("ann"); code != 201 || fmt.Sprint(out["phoneNumbers"]) == "" || !strings.Contains(fmt.Sprint(out["phoneNumbers"]), "+447700900123") {
		t.Errorf("SCIM after the reload: %d %v", code, out)
	}
	if code, out := adminUser("bea"); code != 201 || out["phone"] != "+442079460958" {
		t.Errorf("admin API after the reload: %d %v", code, out)
	}
}

// TestUserCountryReadsNationalNumbers: a user's country, given through the admin API, the
// CLI or a directory's SCIM address, reads that user's national phone numbers where no
// lifecycle.defaultCountry is set; SCIM shows it as the work address's country, takes it
// from Entra's path (addresses[type eq "work"].country), reads a country's name as its
// code, and keeps a value it cannot read as a country as none rather than refuse the
// directory's write.
func TestUserCountryReadsNationalNumbers(t *testing.T) {
	const scimToken = "scim-token-0123456789abcdef0123456789"
	cfg := adminConfig(t, "", "sync:\n  scim: {enabled: true, token: \""+scimToken+"\"}\n")
	app := fakeCLI()
	app.must(t, "users", "add", "cli", "--country", "fr", "--phone", "06 12 34 56 78", "--config", cfg)
	if code, _, errOut := app.run(t, "users", "add", "cli2", "--country", "UK", "--config", cfg); code == 0 ||
		!strings.Contains(errOut, `--country: "UK" is not an ISO 3166-1 alpha-2 code: that country's is "GB"`) {
		t.Errorf("users add --country UK: exit %d %s", code, errOut)
	}
	token := strings.TrimSpace(app.must(t, "tokens", "create", "--name", "idm", "--scope", "write", "--config", cfg))
	url, _, stop := app.serve(t, "--config", cfg)
	defer stop()

	if code, out := adminDo(t, url, token, "GET", "/admin/v1/users/cli", ""); code != 200 || out["phone"] != "+33612345678" || out["country"] != "FR" {
		t.Errorf("the CLI's user: %d %v", code, out)
	}
	if code, out := adminDo(t, url, token, "POST", "/admin/v1/users", `{"name":"ada","country":"de","phone":"030 901820"}`); code != 201 ||
		out["phone"] != "+4930901820" || out["country"] != "DE" {
		t.Errorf("admin API, a user with a country: %d %v", code, out)
	}
	if code, out := adminDo(t, url, token, "PATCH", "/admin/v1/users/ada", `{"phone":"0151 23456789"}`); code != 200 || out["phone"] != "+4915123456789" {
		t.Errorf("admin API, a later national number: %d %v", code, out)
	}
	if code, out := adminDo(t, url, token, "PATCH", "/admin/v1/users/ada", `{"country":"Germany"}`); code != 400 ||
		fmt.Sprint(out["error"]) != "invalid_country" && !strings.Contains(fmt.Sprint(out), "invalid_country") {
		t.Errorf("admin API, a country's name: %d %v", code, out)
	}

	scim := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		return syncPost(t, url+"/scim/v2"+path, body, method, "Authorization", "Bearer "+scimToken, "Content-Type", "application/scim+json")
	}
	code, out := scim("POST", "/Users", `{"userName":"sam","phoneNumbers":[{"type":"mobile","value":"07700 900123"}],
		"addresses":[{"type":"home","country":"US"},{"type":"work","country":"GB","locality":"London"}]}`)
	if code != 201 || !strings.Contains(fmt.Sprint(out["phoneNumbers"]), "+447700900123") || !strings.Contains(fmt.Sprint(out["addresses"]), "country:GB") {
		t.Fatalf("SCIM, a user with a work address in GB: %d %v", code, out)
	}
	id, _ := out["id"].(string)
	// Entra's path for the country; then a national number of the new country's.
	code, out = scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"fr"},
		{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"06 12 34 56 79"}]}`)
	if code != 200 || !strings.Contains(fmt.Sprint(out["phoneNumbers"]), "+33612345679") || !strings.Contains(fmt.Sprint(out["addresses"]), "country:FR") {
		t.Errorf("SCIM, Entra's path for the country: %d %v", code, out)
	}
	// A country's name, as Entra's country attribute often holds it, is read as its code;
	// a national number then is that country's.
	code, out = scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"Deutschland"},
		{"op":"Replace","path":"phoneNumbers[type eq \"mobile\"].value","value":"0151 23456789"},
		{"op":"Replace","path":"displayName","value":"Sam"}]}`)
	if code != 200 || !strings.Contains(fmt.Sprint(out["addresses"]), "country:DE") || out["displayName"] != "Sam" {
		t.Errorf("SCIM, a country's name: %d %v", code, out)
	}
	// One that is no country emfa reads is kept as none, and the write goes through.
	code, out = scim("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[
		{"op":"Replace","path":"addresses[type eq \"work\"].country","value":"Narnia"},
		{"op":"Replace","path":"displayName","value":"Samuel"}]}`)
	if code != 200 || out["addresses"] != nil || out["displayName"] != "Samuel" {
		t.Errorf("SCIM, no country's name: %d %v", code, out)
	}
	if code, out := adminDo(t, url, token, "GET", "/admin/v1/users/sam", ""); code != 200 || out["country"] != nil || out["phone"] != "+4915123456789" {
		t.Errorf("sam after no country's name: %d %v", code, out)
	}
}
