package transcript

import (
	"strings"
	"testing"
	"time"
)

// TestRawBodyHidesSecrets: a Verify call whose body is not JSON (cut off at the
// body limit, a comma too many, a form sent as text) is recorded as it came, to replay
// its refusal; the values of its secret fields must not be in clear there all the same.
func TestRawBodyHidesSecrets(t *testing.T) {
	const code = "806795"
	r := &Recorder{o: RecorderOptions{Config: "providers: []\n"}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, body := range map[string]string{
		"cut off":      `{"capability":"totp","id":"t1","attributes":{"username":"alice","passvalue":"` + code + `","pad":"xxxxxxxxxx`,
		"cut in value": `{"capability":"totp","id":"t1","attributes":{"username":"alice","passvalue":"` + code,
		"comma":        `{"capability":"totp","id":"t1","attributes":{"username":"alice","passvalue": ` + code + `,}}`,
		"escaped":      `{"attributes":{"pass\u0076alue":"80\u0036795"},}`,
		"form":         `capability=totp&id=t1&username=alice&passvalue=` + code,
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			calls := []Observed{{Time: t0, Provider: "acme", Resource: "validate", Method: "POST", Status: 400,
				Request: []byte(body), Response: []byte(`{"messageId":"invalid_request","messageDescription":"body is not valid JSON"}`)}}
			data, err := Marshal(r.transcript(calls))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), code) || strings.Contains(string(data), `80\u0036795`) {
				t.Errorf("the recording carries the user's code:\n%s", data)
			}
			if !strings.Contains(string(data), redacted) {
				t.Errorf("nothing redacted:\n%s", data)
			}
		})
	}
}
