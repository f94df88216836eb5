package remote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/verifyfiles"
)

// fieldPaths lists the paths of the FieldErrors in err.
func fieldPaths(err error) []string {
	var es config.Errors
	if !errors.As(err, &es) {
		return nil
	}
	var paths []string
	for _, e := range es {
		var fe *config.FieldError
		if errors.As(e, &fe) {
			paths = append(paths, fe.Path)
		}
	}
	slices.Sort(paths)
	return paths
}

func TestParseWebhookDUO(t *testing.T) {
	t.Parallel()
	data := verifyfiles.Read(t, "ibm-duo-webhook.json")
	w, err := ParseWebhook(data)
	if err != nil {
		t.Fatal(err)
	}
	if w.Name != "DUO MFA Provider" || w.Type != "realtime" || !slices.Equal(w.Purpose, []string{"external_mfa"}) {
		t.Errorf("name/type/purpose = %q %q %v", w.Name, w.Type, w.Purpose)
	}
	if w.Authentication.Type != AuthHeader || len(w.Authentication.Header.Values) != 2 ||
		w.Authentication.Header.Values[1].Key != "hdr_signing_key" {
		t.Errorf("authentication = %+v", w.Authentication)
	}
	wantRes := []string{"enrollments", "hotp_1", "initiate", "result", "test", "validate"}
	var got []string
	for k := range w.Resources {
		got = append(got, k)
	}
	slices.Sort(got)
	if diff := cmp.Diff(wantRes, got); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if r := w.Resources["result"]; r.Suffix != "/auth/v2/auth_status" || r.method() != "GET" ||
		!strings.Contains(r.Transform.Incoming, "PENDING") {
		t.Errorf("result = %+v", r)
	}

	// The placeholder is not a URL until filled; everything else is valid as published.
	if diff := cmp.Diff([]string{"urls[0]"}, fieldPaths(w.Validate())); diff != "" {
		t.Errorf("validate (-want +got):\n%s", diff)
	}
	filled := bytes.ReplaceAll(data, []byte("{{duo_url}}"), []byte("https://api-1234.duosecurity.com"))
	w, err = ParseWebhook(filled)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Validate(); err != nil {
		t.Errorf("validate filled DUO webhook: %v", err)
	}
}

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	// Verify's export carries fields emfa does not use, at every level.
	data := []byte(`{
		"id": "0b5f", "name": "vendor", "description": "d", "type": "realtime", "purpose": ["external_mfa"],
		"urls": ["https://a.example", "https://b.example/base"],
		"headers": [{"key": "x-tenant", "value": "acme"}],
		"expectedStatus": [200, 201],
		"authentication": {"type": "oauth", "oauth": {"token_endpoint": "https://idp.example/token",
			"client_id": "c", "client_secret": "s", "token_endpoint_auth_method": "client_secret_post",
			"scope": "a b", "expires_in": 600, "window": 30, "extra": true}},
		"resources": {"initiate": {"suffix": "/auth", "method": "put", "expectedStatus": [202],
			"transform": {"outgoing": "{}", "incoming": "{}", "id": 1}, "x": 1}},
		"timeout": "2.5s", "maxResponseBytes": 4096, "ejectAfter": 5, "ejectFor": "1m",
		"lastModified": "2024-01-01T00:00:00Z"
	}`)
	w, err := ParseWebhook(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Webhook{
		Name: "vendor", Type: "realtime", Purpose: []string{"external_mfa"},
		URLs:           []string{"https://a.example", "https://b.example/base"},
		Headers:        []Header{{Key: "x-tenant", Value: "acme"}},
		ExpectedStatus: []int{200, 201},
		Authentication: Authentication{Type: "oauth", OAuth: OAuth{
			TokenEndpoint: "https://idp.example/token", ClientID: "c", ClientSecret: "s",
			TokenEndpointAuthMethod: ClientSecretPost, Scope: "a b", ExpiresIn: 600, Window: 30,
		}},
		Resources: map[string]Resource{"initiate": {
			Suffix: "/auth", Method: "put", ExpectedStatus: []int{202},
			Transform: Transform{Outgoing: "{}", Incoming: "{}"},
		}},
		Timeout: Duration(2500 * time.Millisecond), MaxResponseBytes: 4096,
		EjectAfter: 5, EjectFor: Duration(time.Minute),
	}
	if diff := cmp.Diff(want, w); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if err := w.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}

	for _, bad := range []string{`{"urls": "x"}`, `{"timeout": "5 parsecs"}`, `{"timeout": 5}`, `[`} {
		if _, err := ParseWebhook([]byte(bad)); err == nil {
			t.Errorf("ParseWebhook(%s): no error", bad)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pemFile := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(pemFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	ok := func() *Webhook { return &Webhook{URLs: []string{"https://vendor.example"}} }

	tests := []struct {
		name string
		edit func(w *Webhook)
		want []string // field paths, sorted
	}{
		{"minimal", func(*Webhook) {}, nil},
		{"no urls", func(w *Webhook) { w.URLs = nil }, []string{"urls"}},
		{"relative and ftp urls", func(w *Webhook) {
			w.URLs = []string{"https://ok.example", "/relative", "ftp://x.example", "https://", "http://a b"}
		}, []string{"urls[1]", "urls[2]", "urls[3]", "urls[4]"}},
		{"header name", func(w *Webhook) { w.Headers = []Header{{Key: "bad key", Value: "v"}} }, []string{"headers[0].key"}},
		{"statuses", func(w *Webhook) {
			w.ExpectedStatus = []int{200, 99, 600}
			w.Resources = map[string]Resource{"test": {ExpectedStatus: []int{0}}}
		}, []string{"expectedStatus[1]", "expectedStatus[2]", "resources.test.expectedStatus[0]"}},
		{"methods", func(w *Webhook) {
			w.Resources = map[string]Resource{
				"enrollments": {Method: "get"}, "initiate": {Method: "HEAD"}, "validate": {}, "result": {Method: "PATCH"}, "test": {Method: "TRACE"},
			}
		}, []string{"resources.initiate.method", "resources.test.method"}},
		{"negative limits", func(w *Webhook) {
			w.Timeout, w.MaxResponseBytes, w.MaxConnsPerHost, w.EjectAfter, w.EjectFor = -1, -1, -1, -1, -1
		}, []string{"ejectAfter", "ejectFor", "maxConnsPerHost", "maxResponseBytes", "timeout"}},
		{"unknown auth type", func(w *Webhook) { w.Authentication.Type = "kerberos" }, []string{"authentication.type"}},
		{"none", func(w *Webhook) { w.Authentication.Type = "none" }, nil},
		{"header auth", func(w *Webhook) { w.Authentication.Type = AuthHeader }, []string{"authentication.header.values"}},
		{"header auth key", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{{Key: ""}}}}
		}, []string{"authentication.header.values[0].key"}},
		{"basic", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthBasic, Basic: BasicAuth{Username: "a:b"}}
		}, []string{"authentication.basic.username"}},
		{"oauth empty", func(w *Webhook) { w.Authentication.Type = AuthOAuth },
			[]string{"authentication.oauth.client_id", "authentication.oauth.token_endpoint"}},
		{"oauth bad", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthOAuth, OAuth: OAuth{
				TokenEndpoint: "idp/token", ClientID: "c", TokenEndpointAuthMethod: "private_key_jwt",
				ExpiresIn: -1, Window: -1,
			}}
		}, []string{"authentication.oauth.expires_in", "authentication.oauth.token_endpoint",
			"authentication.oauth.token_endpoint_auth_method", "authentication.oauth.window"}},
		{"oauth tls_client_auth without certificate", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthOAuth, OAuth: OAuth{
				TokenEndpoint: "https://idp.example/token", ClientID: "c", TokenEndpointAuthMethod: TLSClientAuth,
			}}
		}, []string{"authentication.mtls", "authentication.mtls.cert", "authentication.mtls.key"}},
		{"mtls missing files", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthMTLS, MTLS: MTLS{Cert: missing, CA: missing}}
		}, []string{"authentication.mtls.ca", "authentication.mtls.cert", "authentication.mtls.key"}},
		{"mtls ok", func(w *Webhook) {
			pki := newTestPKI(t)
			certFile, keyFile := pki.clientCert(t, dir, "emfa")
			caFile := writePEM(t, dir, "ca.pem", "CERTIFICATE", pki.cert.Raw)
			w.Authentication = Authentication{Type: AuthMTLS, MTLS: MTLS{Cert: certFile, Key: keyFile, CA: caFile}}
		}, nil},
		{"jwt", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthJWT, JWT: JWT{Alg: "none", Lifetime: 60, HTTPHeaderName: "a b"}}
		}, []string{"authentication.jwt.alg", "authentication.jwt.httpHeaderName", "authentication.jwt.key",
			"authentication.jwt.lifetime"}},
		{"jwt ok", func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthJWT, JWT: JWT{Alg: "HS256", Key: "0123456789abcdef0123456789abcdef", Lifetime: 61}}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := ok()
			tt.edit(w)
			err := w.Validate()
			if diff := cmp.Diff(tt.want, fieldPaths(err)); diff != "" {
				t.Errorf("paths (-want +got):\n%s\nerror: %v", diff, err)
			}
			if (err == nil) != (tt.want == nil) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		hook, res []int
		status    int
		want      bool
	}{
		{nil, nil, 200, true},
		{nil, nil, 299, true},
		{nil, nil, 300, false},
		{nil, nil, 404, false},
		{[]int{200, 404}, nil, 404, true},
		{[]int{200, 404}, nil, 201, false},
		{[]int{200}, []int{202}, 200, false},
		{[]int{200}, []int{202}, 202, true},
	}
	for _, tt := range tests {
		w := &Webhook{ExpectedStatus: tt.hook}
		if got := w.accepts(Resource{ExpectedStatus: tt.res}, tt.status); got != tt.want {
			t.Errorf("accepts(%v, %v, %d) = %v", tt.hook, tt.res, tt.status, got)
		}
	}
}

// TestSecretsRedacted prints a webhook every way a log or an error might, and looks for
// its secrets.
func TestSecretsRedacted(t *testing.T) {
	t.Parallel()
	secrets := []string{"hdr-secret-1", "basic-pass-2", "client-secret-3", "jwt-key-4"}
	w := &Webhook{
		Name: "vendor",
		URLs: []string{"https://vendor.example"},
		Authentication: Authentication{
			Type:   AuthHeader,
			Header: HeaderAuth{Values: []HeaderValue{{Key: "x-api-key", Value: config.Secret(secrets[0])}}},
			Basic:  BasicAuth{Username: "u", Password: config.Secret(secrets[1])},
			OAuth:  OAuth{ClientID: "c", ClientSecret: config.Secret(secrets[2])},
			JWT:    JWT{Alg: "HS256", Key: config.Secret(secrets[3])},
		},
	}
	var outs []string
	for _, v := range []any{w, *w, w.Authentication, w.Authentication.Header, w.Authentication.Header.Values[0],
		w.Authentication.Basic, w.Authentication.OAuth, w.Authentication.JWT} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(b))
		var text, js bytes.Buffer
		slog.New(slog.NewTextHandler(&text, nil)).Info("m", "v", v)
		slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "v", v)
		outs = append(outs, text.String(), js.String())
	}
	for _, out := range outs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("secret %q leaked in %s", s, out)
			}
		}
	}
	// The webhook's own log line still says what it is.
	var js bytes.Buffer
	slog.New(slog.NewJSONHandler(&js, nil)).Info("m", "webhook", w)
	if !strings.Contains(js.String(), `"webhook":{"name":"vendor","urls":["https://vendor.example"],"authentication":"header"}`) {
		t.Errorf("log line: %s", js.String())
	}
}

// TestValidateNeverEchoesAValue: a secret pasted into the wrong field of a webhook file
// (a client secret where a method or a type goes, a URL with credentials) is never
// printed back by the error that refuses it.
func TestValidateNeverEchoesAValue(t *testing.T) {
	t.Parallel()
	const secret = "S3cretValueXYZ"
	for name, edit := range map[string]func(w *Webhook){
		"url":         func(w *Webhook) { w.URLs = []string{"ftp://u:" + secret + "@x.example"} },
		"header name": func(w *Webhook) { w.Headers = []Header{{Key: secret + " x", Value: "v"}} },
		"method":      func(w *Webhook) { w.Resources = map[string]Resource{"a": {Method: secret}} },
		"auth type":   func(w *Webhook) { w.Authentication.Type = secret },
		"auth header": func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthHeader, Header: HeaderAuth{Values: []HeaderValue{{Key: secret + " x"}}}}
		},
		"oauth": func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthOAuth, OAuth: OAuth{TokenEndpoint: secret, ClientID: "c", TokenEndpointAuthMethod: secret}}
		},
		"jwt": func(w *Webhook) {
			w.Authentication = Authentication{Type: AuthJWT, JWT: JWT{Alg: secret, Key: "k", Lifetime: 61, HTTPHeaderName: secret + " x"}}
		},
		"lifecycle step name": func(w *Webhook) {
			w.Lifecycle = map[string][]LifecycleStep{"user.delete": {{Name: secret + "-", Resource: Resource{Method: "DELETE"}}}}
		},
		"lifecycle step twice": func(w *Webhook) {
			w.Lifecycle = map[string][]LifecycleStep{"user.delete": {{Name: secret, Resource: Resource{Method: "GET"}}, {Name: secret, Resource: Resource{Method: "DELETE"}}}}
		},
		"lifecycle method": func(w *Webhook) {
			w.Lifecycle = map[string][]LifecycleStep{"user.delete": {{Name: "a", Resource: Resource{Method: secret}}}}
		},
	} {
		w := &Webhook{URLs: []string{"https://vendor.example"}}
		edit(w)
		err := w.Validate()
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(secret)) {
			t.Errorf("%s: the error shows the value: %v", name, err)
		}
	}
	if _, err := newAuthenticator(Authentication{Type: secret}, nil, time.Second); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("newAuthenticator: %v", err)
	}
}

// A vendor's URL and its token endpoint are https, or http to this host only: the calls
// carry credentials and passcodes, which plain HTTP shows anyone on the path.
func TestVendorURLsOverTLS(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://api.vendor.example", true},
		{"http://127.0.0.1:8443", true},
		{"http://[::1]:8443/base", true},
		{"http://localhost:9000", true},
		{"http://api.vendor.example", false},
		{"http://10.0.0.7:8080", false},
	} {
		w := &Webhook{URLs: []string{c.url}}
		_, err := Check(w)
		refused := err != nil && strings.Contains(err.Error(), "want https")
		if refused == c.ok {
			t.Errorf("urls %s: %v", c.url, err)
		}
		w = &Webhook{URLs: []string{"https://api.vendor.example"}, Authentication: Authentication{Type: "oauth",
			OAuth: OAuth{TokenEndpoint: c.url, ClientID: "c", ClientSecret: "s"}}}
		_, err = Check(w)
		refused = err != nil && strings.Contains(err.Error(), "want https")
		if refused == c.ok {
			t.Errorf("token_endpoint %s: %v", c.url, err)
		}
	}
}
