package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/retryafter"
)

// verifyOptions are the flags of `emfa verify export` and `emfa verify register`.
type verifyOptions struct {
	config, provider, auth string
	// urls are emfa's base URLs as Verify reaches them: one --url each.
	urls       []string
	uniqueName string
	// The OAuth client Verify's webhook uses toward emfa (emfa clients create).
	oauthID, oauthSecret string
	// register only: the tenant and its API client.
	tenant, clientID, clientSecret string
	// allowHTTP lets register send secrets over http:// (a test tenant, a lab).
	allowHTTP bool
}

func (d *deps) verifyCmd() *cobra.Command {
	var o verifyOptions
	common := func(c *cobra.Command) {
		configVar(c.Flags(), &o.config, "configuration `FILE` (default: the embedded default)")
		c.Flags().StringVar(&o.provider, "provider", "", "only the provider with this credentialPrefix (default: every enabled one)")
		c.Flags().StringArrayVar(&o.urls, "url", nil, "emfa's `BASE` URL as Verify reaches it, repeated for replicas Verify calls in turn (default: selfService.publicURL, else server.listen unless a wildcard or loopback address)")
		c.Flags().StringVar(&o.auth, "auth", "", "the authentication Verify uses toward emfa: oauth, mtls, header or basic (default: the first configured, in that order)")
		c.Flags().StringVar(&o.uniqueName, "unique-name-attribute", "username", "the Verify user `ATTRIBUTE` sent to emfa as the username")
		c.Flags().StringVar(&o.oauthID, "oauth-client-id", "", "with --auth oauth: the `ID` of an emfa OAuth client (emfa clients create)")
		c.Flags().StringVar(&o.oauthSecret, "oauth-client-secret", "", "with --auth oauth: its secret, default $EMFA_OAUTH_CLIENT_SECRET: prefer that, a flag is visible to other users (ps)")
		once(c.Flags(), true, "oauth-client-secret")
	}
	export := &cobra.Command{
		Use:   "export",
		Short: "print the webhook and MFA-provider JSON Verify needs for emfa",
		Long: `export prints, for each enabled provider, the real-time webhook and the MFA provider
objects to create in IBM Verify (a JSON array of {"webhook", "mfaProvider"}). The webhook's
authentication matches emfa's inbound authentication; its secrets are {{placeholders}}
(the OAuth client's too), and the provider's webhookId is {{webhook_id}}.
The webhook's URL is --url, else selfService.publicURL, else server.listen's address; a
wildcard or loopback server.listen (0.0.0.0:8080), which Verify cannot call, is refused.`,
		Example: `  emfa verify export --config emfa.yaml --url https://emfa.example.com
  emfa verify export --config emfa.yaml --provider emfa --auth basic`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, err := loadConfig(storeOptions{config: o.config}, forReading, d.stderr)
			if err != nil {
				return err
			}
			pairs, err := verifyObjects(cfg, o, false)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(d.stdout)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			return enc.Encode(pairs)
		},
	}
	common(export)
	register := &cobra.Command{
		Use:   "register --tenant URL --client-id ID (secret in $EMFA_VERIFY_CLIENT_SECRET)",
		Short: "create or update emfa's webhook and MFA provider in a Verify tenant, then test it",
		Long: `register logs in to the tenant with an API client's credentials, creates or updates the
real-time webhook of each provider (found by name) and then its MFA provider (found by
credentialPrefix) with the webhook's id, and calls the webhook's test. A second run with
the same configuration changes nothing. The API client needs the permission to manage
webhooks and MFA providers. The webhook's URL is export's (--url, else
selfService.publicURL, else server.listen). Before it changes anything it refuses a webhook
URL taken from a wildcard or loopback server.listen (pass --url with emfa's public address) and, without
--allow-http, an http:// tenant or URL (secrets in clear).`,
		Example: `  EMFA_VERIFY_CLIENT_SECRET=… emfa verify register --config emfa.yaml \
      --tenant https://acme.verify.ibm.com --client-id 1234 --url https://emfa.example.com
  EMFA_VERIFY_CLIENT_SECRET=… EMFA_OAUTH_CLIENT_SECRET=… emfa verify register --config emfa.yaml \
      --tenant https://acme.verify.ibm.com --client-id 1234 --auth oauth --oauth-client-id verify`,
		Args: noArgsNeeding(&o.tenant, "verify register needs --tenant URL"),
		RunE: func(c *cobra.Command, _ []string) error {
			if o.clientSecret == "" {
				o.clientSecret = os.Getenv("EMFA_VERIFY_CLIENT_SECRET")
			}
			if o.clientID == "" || o.clientSecret == "" {
				return usageError{"verify register needs --client-id and --client-secret (or $EMFA_VERIFY_CLIENT_SECRET)"}
			}
			// Only the server's secrets go to Verify: the store's key and the vendors' are
			// not needed to register.
			cfg, err := loadConfig(storeOptions{config: o.config, need: []string{"server"}}, forReading, d.stderr)
			if err != nil {
				return err
			}
			// Before anything in the tenant changes: a webhook URL Verify cannot call
			// would replace a working one.
			if err := registerURLs(cfg, o); err != nil {
				return err
			}
			pairs, err := verifyObjects(cfg, o, true)
			if err != nil {
				return err
			}
			return d.register(c.Context(), o, pairs)
		},
	}
	common(register)
	register.Flags().StringVar(&o.tenant, "tenant", "", "the Verify tenant's `URL`, e.g. https://acme.verify.ibm.com")
	register.Flags().StringVar(&o.clientID, "client-id", "", "the `ID` of a Verify API client")
	register.Flags().StringVar(&o.clientSecret, "client-secret", "", "its secret, default $EMFA_VERIFY_CLIENT_SECRET: prefer that, a flag is visible to other users (ps) and kept in the shell's history")
	once(register.Flags(), true, "client-secret")
	register.Flags().BoolVar(&o.allowHTTP, "allow-http", false, "allow an http:// tenant or --url, whose secrets then travel in clear (a lab, a test tenant)")
	return group("verify", "register emfa in IBM Verify (export or register its webhook and MFA provider)",
		"  emfa verify export --config emfa.yaml --url https://emfa.example.com", export, register)
}

// webhookBases are emfa's base URLs as Verify reaches them: each --url (Verify calls a
// webhook's urls round robin, and retries on another, verify-contract.md §12), else
// selfService.publicURL (where users reach emfa, the same front door), else
// server.listen's address. A listen address Verify cannot call (a wildcard such as the
// container's 0.0.0.0:8080, or loopback) is refused, asking for --url, rather than written
// into a webhook.
func webhookBases(cfg *config.Config, o verifyOptions) ([]string, error) {
	if len(o.urls) > 0 {
		bases := make([]string, len(o.urls))
		for i, raw := range o.urls {
			// Written into the webhook as it is: one Verify cannot call (no scheme, a
			// query the resource suffixes would follow) would replace the tenant's
			// working URL.
			if !config.IsBaseURL(raw) {
				shown := fmt.Sprintf("%q", raw)
				if u, err := url.Parse(raw); err == nil && u.User != nil {
					shown = "with credentials" // not repeated to the terminal, nor to a CI log
				}
				return nil, usageError{fmt.Sprintf("--url %s is not emfa's base URL: want https://host[:port][/path] (a port 1-65535, no space, no IPv6 zone), without a query or credentials (e.g. --url https://emfa.example.com)", shown)}
			}
			bases[i] = strings.TrimRight(raw, "/")
		}
		return bases, nil
	}
	base, err := defaultBase(cfg)
	if err != nil {
		return nil, err
	}
	return []string{base}, nil
}

// defaultBase is emfa's base URL without --url.
func defaultBase(cfg *config.Config) (string, error) {
	if pub := cfg.SelfService.PublicURL; pub != "" {
		u, err := url.Parse(pub)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", usageError{fmt.Sprintf("selfService.publicURL %q is not an absolute http(s) URL: fix it, or pass --url with emfa's public address", pub)}
		}
		if !config.IsBaseURL(pub) { // not quoted: it may hold credentials
			return "", usageError{"selfService.publicURL is not emfa's base URL: want https://host[:port][/path] (a port 1-65535, no space, no IPv6 zone), " +
				"without a query, a fragment or credentials; fix it, or pass --url with emfa's public address"}
		}
		return strings.TrimRight(pub, "/"), nil
	}
	host, _, err := net.SplitHostPort(cfg.Server.Listen)
	if err != nil {
		host = cfg.Server.Listen
	}
	ip := net.ParseIP(host)
	if host == "" || strings.EqualFold(host, "localhost") || (ip != nil && (ip.IsUnspecified() || ip.IsLoopback())) {
		return "", usageError{fmt.Sprintf("server.listen is %s, an address Verify cannot call, and selfService.publicURL is not set: "+
			"pass --url with emfa's public address as Verify reaches it (e.g. --url https://emfa.example.com)", cfg.Server.Listen)}
	}
	scheme := "http"
	if cfg.Server.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + cfg.Server.Listen, nil
}

// registerURLs refuses, before register changes anything, the URLs it would use wrongly:
// a webhook URL Verify cannot call (webhookBase); and, without --allow-http, an http://
// tenant (the API client's secret in clear) or webhook URL (Verify's credentials toward
// emfa in clear).
func registerURLs(cfg *config.Config, o verifyOptions) error {
	// The API paths are appended to it: without a scheme it fails as a parse error of
	// the token URL, a query or fragment swallows them, and credentials in it would be
	// sent as Basic authentication in place of the API client's and repeated in errors.
	if !config.IsBaseURL(o.tenant) { // not quoted: it may hold credentials
		return usageError{"--tenant is not the tenant's base URL: want https://host[:port], without a query, a fragment or credentials (e.g. --tenant https://acme.verify.ibm.com)"}
	}
	// The tenant's APIs are at its root: a path (the admin console's /ui/admin/, copied
	// from the browser) would have them appended, and its page answer the token request.
	if u, err := url.Parse(o.tenant); err == nil && strings.Trim(u.Path, "/") != "" {
		return usageError{fmt.Sprintf("--tenant has a path (%s): the tenant's APIs are at its root; give https://host[:port] only (e.g. --tenant https://%s)",
			u.EscapedPath(), u.Host)}
	}
	bases, err := webhookBases(cfg, o)
	if err != nil {
		return err
	}
	if o.allowHTTP {
		return nil
	}
	if u, err := url.Parse(o.tenant); err == nil && strings.EqualFold(u.Scheme, "http") {
		return usageError{fmt.Sprintf("--tenant %s is http://: the API client's secret would travel in clear; use https:// (or --allow-http for a test tenant)", o.tenant)}
	}
	for _, base := range bases {
		if u, err := url.Parse(base); err == nil && strings.EqualFold(u.Scheme, "http") {
			return usageError{fmt.Sprintf("the webhook URL %s is http://: Verify would send its credentials toward emfa in clear; "+
				"pass --url https://… (emfa's TLS or a TLS proxy in front), or --allow-http for a lab", base)}
		}
	}
	return nil
}

// verifyPair is one provider as Verify configures it.
type verifyPair struct {
	Webhook     map[string]any `json:"webhook"`
	MFAProvider map[string]any `json:"mfaProvider"`
}

// verifyObjects builds the objects for the configured providers. With secrets, the
// webhook's authentication carries emfa's real inbound secrets; otherwise placeholders.
func verifyObjects(cfg *config.Config, o verifyOptions, secrets bool) ([]verifyPair, error) {
	if strings.TrimSpace(o.uniqueName) == "" {
		return nil, usageError{"--unique-name-attribute is empty: Verify would have no user attribute to send emfa as the username (e.g. username, email)"}
	}
	bases, err := webhookBases(cfg, o)
	if err != nil {
		return nil, err
	}
	auth, err := webhookAuth(cfg, o, bases[0], secrets)
	if err != nil {
		return nil, err
	}
	if secrets {
		// register finds a provider's webhook by its name: two enabled providers of one
		// name would share a webhook, each run pointing it at the last one's URL, even
		// when --provider selects only one of them.
		byName := map[string]string{}
		for _, p := range cfg.Providers {
			if !p.IsEnabled() {
				continue
			}
			if other, dup := byName[p.Name]; dup {
				return nil, usageError{fmt.Sprintf("providers %s and %s are both named %q, the name register finds their webhook by: give each a name of its own",
					other, p.CredentialPrefix, p.Name)}
			}
			byName[p.Name] = p.CredentialPrefix
		}
	}
	var out []verifyPair
	for _, p := range cfg.Providers {
		if !p.IsEnabled() || (o.provider != "" && !strings.EqualFold(p.CredentialPrefix, o.provider)) {
			continue
		}
		res := func(suffix, method string) map[string]any { return map[string]any{"suffix": suffix, "method": method} }
		urls := make([]any, len(bases))
		for i, base := range bases {
			urls[i] = base + "/v1/providers/" + p.CredentialPrefix
		}
		hook := map[string]any{
			"name":           p.Name,
			"type":           "realtime",
			"urls":           urls,
			"authentication": auth,
			"resources": map[string]any{
				"enrollments": res("/enrollments", "POST"),
				"initiate":    res("/initiate", "POST"),
				"validate":    res("/validate", "POST"),
				"result":      res("/result", "POST"),
				"test":        res("/test", "GET"),
			},
			"purpose": []any{"external_mfa"},
		}
		caps := make([]any, len(p.Capabilities))
		for i, c := range p.Capabilities {
			caps[i] = c
		}
		prov := map[string]any{
			"name": p.Name, "description": p.Description, "enabled": true, "type": "generic",
			"credentialPrefix": p.CredentialPrefix, "webhookId": "{{webhook_id}}",
			"uniqueNameAttribute": o.uniqueName, "capabilities": caps, "capabilityCacheTtl": 0,
		}
		out = append(out, verifyPair{Webhook: hook, MFAProvider: prov})
	}
	if len(out) == 0 {
		if o.provider != "" {
			return nil, fmt.Errorf("no enabled provider with credentialPrefix %q", o.provider)
		}
		return nil, errors.New("no enabled provider")
	}
	return out, nil
}

// webhookAuth is the webhook's authentication (verify-contract.md §9) for emfa's inbound
// authentication of the kind o.auth names, or the first configured.
func webhookAuth(cfg *config.Config, o verifyOptions, base string, secrets bool) (map[string]any, error) {
	a := cfg.Server.Auth
	kind := strings.ToLower(o.auth)
	if kind == "" {
		switch {
		case a.OAuth != nil:
			kind = "oauth"
		case a.MTLS != nil:
			kind = "mtls"
		case a.Header != nil:
			kind = "header"
		case a.Basic != nil:
			kind = "basic"
		default:
			return nil, errors.New("server.auth has no method Verify could use (allowAnonymous is for local experiments)")
		}
	}
	secret := func(placeholder, v string) string {
		if secrets && v != "" {
			return v
		}
		return "{{" + placeholder + "}}"
	}
	switch kind {
	case "basic":
		if a.Basic == nil {
			break
		}
		return map[string]any{"type": "basic", "basic": map[string]any{
			"username": a.Basic.Username, "password": secret("emfa_basic_password", a.Basic.Password.Reveal())}}, nil
	case "header":
		if a.Header == nil {
			break
		}
		return map[string]any{"type": "header", "header": map[string]any{"values": []any{map[string]any{
			"key": a.Header.Name, "value": secret("emfa_header_value", a.Header.Value.Reveal()), "sensitive": true}}}}, nil
	case "oauth":
		if a.OAuth == nil {
			break
		}
		if o.oauthSecret == "" {
			o.oauthSecret = os.Getenv("EMFA_OAUTH_CLIENT_SECRET")
		}
		if secrets && (o.oauthID == "" || o.oauthSecret == "") {
			return nil, usageError{"--auth oauth needs --oauth-client-id and --oauth-client-secret (emfa clients create)"}
		}
		endpoint := base + "/oauth2/token"
		if !a.OAuth.IssuesTokens() {
			if secrets { // a placeholder written into the tenant would replace a working endpoint
				return nil, usageError{"--auth oauth: emfa issues no tokens (server.auth.oauth.tokenEndpoint is false) and register does not know " +
					"the external authorization server's token endpoint: use emfa verify export and fill it in Verify, or another --auth"}
			}
			endpoint = "{{token_endpoint}}" // the external authorization server's
		}
		id := o.oauthID
		if id == "" {
			id = "{{emfa_oauth_client_id}}"
		}
		oauth := map[string]any{"token_endpoint": endpoint, "client_id": id,
			"client_secret": secret("emfa_oauth_client_secret", o.oauthSecret), "token_endpoint_auth_method": "client_secret_basic"}
		return map[string]any{"type": "oauth", "oauth": oauth}, nil
	case "mtls":
		if a.MTLS == nil {
			break
		}
		// Verify keeps the client certificate itself; its fields are the operator's to fill,
		// and placeholders written into the tenant would replace a working certificate.
		if secrets {
			return nil, usageError{"--auth mtls: register does not hold the client certificate and key Verify presents: " +
				"use emfa verify export and fill them in Verify, or another --auth"}
		}
		return map[string]any{"type": "mtls", "mtls": map[string]any{
			"certificate": "{{client_certificate_pem}}", "key": "{{client_key_pem}}"}}, nil
	default:
		return nil, usageError{fmt.Sprintf("--auth %q: want oauth, mtls, header or basic", o.auth)}
	}
	return nil, usageError{fmt.Sprintf("--auth %s: server.auth.%s is not configured", kind, kind)}
}

// verifyAPI is a logged-in client of a tenant's configuration APIs.
type verifyAPI struct {
	base   string
	client *http.Client
}

func (v verifyAPI) do(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	for try := 0; ; try++ {
		var body io.Reader
		if in != nil {
			body = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, v.base+path, body)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", "application/json")
		if in != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := v.client.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, err)
		}
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxVerifyAnswer+1))
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			// The tenant limits its API clients and did nothing: wait as it asks and
			// try again, rather than stop half-way (a webhook written, its provider not).
			wait := retryAfter(resp.Header.Get("Retry-After"))
			if try < verifyRetries && wait <= verifyMaxWait {
				if err := verifyWait(ctx, wait); err != nil {
					return nil, fmt.Errorf("%s %s: %w", method, path, err)
				}
				continue
			}
			return nil, fmt.Errorf("%s %s: status 429: the tenant limits its API clients and asks to wait %d s (%d tries made): run register again later",
				method, path, int((wait+time.Second-1)/time.Second), try+1)
		}
		if resp.StatusCode/100 != 2 {
			var e struct{ MessageID, MessageDescription string }
			_ = json.Unmarshal(data, &e)
			hint := ""
			switch {
			case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
				hint = " (the tenant refused the API client this call: give it the permission to manage webhooks and MFA providers)"
			case resp.StatusCode == http.StatusConflict && method == http.MethodPost:
				hint = " (such an object exists in the tenant already, one register did not find by its name or credentialPrefix: " +
					"look for it in the tenant, rename or remove it, and run again)"
			}
			return nil, fmt.Errorf("%s %s: status %d: %s %s%s", method, path, resp.StatusCode, excerpt([]byte(e.MessageID)),
				excerpt([]byte(cmpString(e.MessageDescription, string(data)))), hint)
		}
		if len(data) > maxVerifyAnswer {
			return nil, fmt.Errorf("%s %s: status %d: the answer is larger than 4 MiB, more than register reads", method, path, resp.StatusCode)
		}
		return resp.Header, decodeAnswer(method, path, resp.Header.Get("Content-Type"), data, out)
	}
}

// maxVerifyAnswer is the most register reads of an answer from the tenant.
const maxVerifyAnswer = 4 << 20

// verifyRetries is how many times a call the tenant rate-limits (429) is retried, and
// verifyMaxWait the longest Retry-After register waits for.
const (
	verifyRetries = 3
	verifyMaxWait = time.Minute
)

// verifyWait waits d before a retry, or until ctx ends (a test replaces it).
var verifyWait = func(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// retryAfter is the wait a Retry-After header asks, in seconds or as an HTTP date; a
// second when absent or unreadable.
func retryAfter(h string) time.Duration {
	if d, ok := retryafter.Parse(h, time.Now()); ok {
		return d
	}
	return time.Second
}

// decodeAnswer decodes a 2xx answer's body into out, when both are there. One that is
// not JSON (a sign-on proxy's page) is said to be that, with its start.
func decodeAnswer(method, path, ctype string, data []byte, out any) error {
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			if _, syntax := err.(*json.SyntaxError); syntax {
				return fmt.Errorf("%s %s: the answer is not JSON (Content-Type %q): %s", method, path, ctype, excerpt(data))
			}
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// excerpt is the start of a text from the tenant (a proxy's page, an error's
// description, what the webhook's test brought back), on one line and without control
// characters: enough to recognise it, not a whole page nor a terminal's escape sequences
// in a terminal or a CI log.
func excerpt(data []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(data), "?"))
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		return string(r[:200]) + "…"
	}
	return s
}

func cmpString(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// list returns the objects of a collection, whether Verify answers an array or an object
// holding one under the collection's name.
func (v verifyAPI) list(ctx context.Context, kind string) ([]map[string]any, error) {
	var raw json.RawMessage
	if _, err := v.do(ctx, http.MethodGet, "/config/v1.0/"+kind, nil, &raw); err != nil {
		return nil, err
	}
	var list []map[string]any
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	var wrapped map[string]json.RawMessage
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, fmt.Errorf("GET /config/v1.0/%s: %w", kind, err)
	}
	if err := json.Unmarshal(wrapped[kind], &list); err != nil {
		return nil, fmt.Errorf("GET /config/v1.0/%s: no %q list: %w", kind, kind, err)
	}
	return list, nil
}

// upsert creates want, or updates the object the first of matches to find one finds when
// it differs from want, and returns its id and what was done.
func (v verifyAPI) upsert(ctx context.Context, kind string, want map[string]any, matches ...func(map[string]any) bool) (string, string, error) {
	list, err := v.list(ctx, kind)
	if err != nil {
		return "", "", err
	}
	var have map[string]any
	for _, match := range matches {
		if i := slices.IndexFunc(list, match); i >= 0 {
			have = list[i]
			break
		}
	}
	if have != nil {
		id, _ := have["id"].(string)
		if id == "" {
			return "", "", fmt.Errorf("%s: an existing object has no id", kind)
		}
		if contains(have, normalise(want)) {
			return id, "unchanged", nil
		}
		if _, err := v.do(ctx, http.MethodPut, "/config/v1.0/"+kind+"/"+id, want, nil); err != nil {
			return "", "", err
		}
		return id, "updated", nil
	}
	var created struct {
		ID string `json:"id"`
	}
	hdr, err := v.do(ctx, http.MethodPost, "/config/v1.0/"+kind, want, &created)
	if err != nil {
		return "", "", err
	}
	if created.ID == "" { // some answers name the new object in Location only
		loc := hdr.Get("Location")
		created.ID = loc[strings.LastIndex(loc, "/")+1:]
	}
	if created.ID == "" {
		return "", "", fmt.Errorf("POST /config/v1.0/%s: no id in the answer", kind)
	}
	return created.ID, "created", nil
}

// normalise gives v the types JSON decoding gives (float64 numbers, []any lists).
func normalise(v map[string]any) map[string]any {
	b, _ := json.Marshal(v)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// contains reports whether have holds every key of want with an equal value (Verify
// may add fields of its own).
func contains(have, want map[string]any) bool {
	for k, w := range want {
		h, ok := have[k]
		if !ok {
			return false
		}
		hm, hok := h.(map[string]any)
		wm, wok := w.(map[string]any)
		if hok && wok {
			if !contains(hm, wm) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(h, w) {
			return false
		}
	}
	return true
}

// refuseRedirect stops a call to the tenant at a redirect, naming where it pointed (its
// scheme, host and path only: a query may hold anything).
func refuseRedirect(req *http.Request, _ []*http.Request) error {
	u := *req.URL
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return fmt.Errorf("the tenant answered with a redirect to %s, which register does not follow (it would carry the credentials): "+
		"check --tenant (https://, the tenant's own host)", u.String())
}

// verifyCallTimeout bounds each call register makes to the tenant, the webhook's test
// (Verify calling emfa, which answers within its requestTimeout) included.
var verifyCallTimeout = time.Minute

// register creates or updates each pair in the tenant: the webhook first, its id into
// the provider, then the webhook's test.
func (d *deps) register(ctx context.Context, o verifyOptions, pairs []verifyPair) error {
	tenant := strings.TrimRight(o.tenant, "/")
	cc := clientcredentials.Config{ClientID: o.clientID, ClientSecret: o.clientSecret,
		TokenURL: tenant + "/v1.0/endpoint/default/token", AuthStyle: oauth2.AuthStyleInParams}
	// Each call is bounded: a tenant (or a proxy) that takes the connection and never
	// answers fails the run, naming the call, rather than hang it (a CI job) for ever.
	// No redirect is followed (oauth2 carries CheckRedirect into the API client): the
	// token request's body (the API client's secret) would be resent to wherever a 307
	// points, the OAuth transport sets the bearer token again on a redirected call
	// whatever its host, and a 301 turns a PUT into a GET that answers 200, reported
	// "updated" while nothing changed.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: verifyCallTimeout, CheckRedirect: refuseRedirect})
	// The token first, so that a refused client is said to be that, not an API call's
	// failure.
	src := cc.TokenSource(ctx)
	tok, err := src.Token()
	for try := 0; err != nil && try < verifyRetries; try++ {
		// Rate-limited as an API call is (429): wait as the tenant asks, and again.
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response == nil || re.Response.StatusCode != http.StatusTooManyRequests {
			break
		}
		wait := retryAfter(re.Response.Header.Get("Retry-After"))
		if wait > verifyMaxWait || verifyWait(ctx, wait) != nil {
			break
		}
		tok, err = src.Token()
	}
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.ErrorCode != "" {
			return fmt.Errorf("the tenant refused the API client's token request (%s): check --client-id and --client-secret, "+
				"and that the client may manage webhooks and MFA providers", re.ErrorCode)
		}
		if re != nil && re.Response != nil {
			// Not an OAuth error (a proxy's page, a --tenant with a path): its status and
			// the start of the answer, not oauth2's whole body (up to 1 MiB).
			return fmt.Errorf("the API client's token request to %s: status %d: %s", cc.TokenURL, re.Response.StatusCode, excerpt(re.Body))
		}
		return fmt.Errorf("the API client's token request to %s: %w", cc.TokenURL, err)
	}
	// That token for every call (fetched again only should it expire during the run),
	// rather than cc.Client's fresh source asking the tenant for a second one.
	client := oauth2.NewClient(ctx, oauth2.ReuseTokenSource(tok, src))
	api := verifyAPI{base: tenant, client: client}
	var failed, unserved []string
	for _, p := range pairs {
		name, _ := p.Webhook["name"].(string)
		prefix, _ := p.MFAProvider["credentialPrefix"].(string)
		isProvider := func(h map[string]any) bool {
			s, _ := h["credentialPrefix"].(string)
			return strings.EqualFold(s, prefix)
		}
		// The webhook the provider references already, so that a provider renamed in
		// the configuration keeps it; else the one of its name. Only a real-time webhook
		// is the provider's: one of another type with the same name (a notification
		// webhook) is left alone.
		providers, err := api.list(ctx, "mfaproviders")
		if err != nil {
			return fmt.Errorf("mfa provider %q: %w", prefix, err)
		}
		var ref string
		if i := slices.IndexFunc(providers, isProvider); i >= 0 {
			ref, _ = providers[i]["webhookId"].(string)
		}
		realtime := func(h map[string]any) bool {
			typ, _ := h["type"].(string)
			return typ == "" || strings.EqualFold(typ, "realtime")
		}
		hookID, done, err := api.upsert(ctx, "webhooks", p.Webhook,
			func(h map[string]any) bool { return ref != "" && h["id"] == ref && realtime(h) },
			func(h map[string]any) bool { return h["name"] == name && realtime(h) })
		if err != nil {
			return fmt.Errorf("webhook %q: %w", name, err)
		}
		fmt.Fprintf(d.stdout, "webhook %q: %s (id %s)\n", name, done, hookID)
		p.MFAProvider["webhookId"] = hookID
		provID, done, err := api.upsert(ctx, "mfaproviders", p.MFAProvider, isProvider)
		if err != nil {
			return fmt.Errorf("mfa provider %q: %w", prefix, err)
		}
		fmt.Fprintf(d.stdout, "mfa provider %q: %s (id %s)\n", prefix, done, provID)
		var test struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		hookURL := strings.Trim(fmt.Sprint(p.Webhook["urls"]), "[]")
		if _, err := api.do(ctx, http.MethodGet, "/config/v1.0/webhooks/"+hookID+"/test/test", nil, &test); err != nil {
			fmt.Fprintf(d.stdout, "webhook %q: test failed: %v\n", name, err)
			failed = append(failed, hookURL)
			continue
		}
		if test.StatusCode != 0 && test.StatusCode != http.StatusOK {
			fmt.Fprintf(d.stdout, "webhook %q: test: emfa answered %d: %s\n", name, test.StatusCode, excerpt([]byte(test.Body)))
			failed = append(failed, hookURL)
			continue
		}
		// emfa reached and answering 200 may still say the provider cannot serve
		// (verify-contract.md §8): its backend unreachable, no test resource.
		var answer struct {
			Status     string `json:"status"`
			Attributes struct {
				Reason string `json:"reason"`
			} `json:"attributes"`
		}
		if json.Unmarshal([]byte(test.Body), &answer) == nil && answer.Status != "" && answer.Status != "SUCCESS" {
			fmt.Fprintf(d.stdout, "webhook %q: test: emfa answered %s: %s\n", name, excerpt([]byte(answer.Status)), excerpt([]byte(answer.Attributes.Reason)))
			unserved = append(unserved, prefix)
			continue
		}
		fmt.Fprintf(d.stdout, "webhook %q: test ok\n", name)
	}
	if len(unserved) > 0 && len(failed) == 0 {
		return fmt.Errorf("registered, but emfa answered the webhook test FAILED for provider %s: see the reason above, and emfa's log", strings.Join(unserved, ", "))
	}
	if len(failed) > 0 {
		// Either cause looks the same from here: Verify could not call the URL (not
		// emfa's public address, a firewall, a certificate Verify does not trust), or emfa
		// refused the credentials it was given.
		return fmt.Errorf("registered, but the webhook test failed for %s: check that this is emfa's address as Verify reaches it "+
			"(--url), and the credentials Verify sends (--auth)", strings.Join(failed, ", "))
	}
	return nil
}
