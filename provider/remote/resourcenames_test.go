package remote

import (
	"strings"
	"testing"
)

// TestResourceNamesChecked: a resource emfa never calls — a typo of a contract
// resource (initate), a step that does not exist (push_3) — is an error, as a typo is
// anywhere in the configuration (README): before, emfa check said ok and every initiate
// answered FAILED for want of a resource. The names emfa calls pass, in any case.
func TestResourceNamesChecked(t *testing.T) {
	w := &Webhook{URLs: []string{"https://vendor.example"}, Resources: map[string]Resource{
		"enrollments": {}, "Initiate": {}, "validate": {}, "result": {}, "test": {},
		"hotp_1": {}, "mobile_otp_2": {}, "PUSH_1": {},
		"initate": {}, "push_3": {}, "_1": {}, "sms_": {},
	}}
	err := w.Validate()
	if err == nil {
		t.Fatal("Validate accepted resources emfa never calls")
	}
	for _, bad := range []string{"initate", "push_3", "_1", "sms_"} {
		if !strings.Contains(err.Error(), "resources."+bad+": ") {
			t.Errorf("resources.%s not refused: %v", bad, err)
		}
	}
	for _, good := range []string{"enrollments", "Initiate", "hotp_1", "mobile_otp_2", "PUSH_1"} {
		if strings.Contains(err.Error(), "resources."+good+": ") {
			t.Errorf("resources.%s refused: %v", good, err)
		}
	}
}
