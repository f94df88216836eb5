package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/store"
	"github.com/emfa/emfa/transcript"
)

// callRecorder hands the adapter's recorded calls to a transcript recorder, with what
// each needs to replay, looked up before its answer is released (so it is the state the
// call left).
type callRecorder struct {
	r *transcript.Recorder
	e *env
}

func (c callRecorder) Record(call adapter.RecordedCall) {
	o := transcript.Observed{
		// The engines' clock: a recording under a test's fake clock moves with it.
		Time: c.e.now(), Provider: call.Provider, Resource: call.Resource, Method: call.Method, Auth: call.Auth,
		Challenge: call.Challenge, Query: call.Query, Request: call.Request, Status: call.Status, Response: call.Response, Exchanges: call.Exchanges,
	}
	if call.Resource != adapter.ResourceDevice {
		var err error
		if o.Setup, o.Input, err = c.e.recordedSetup(o); err != nil {
			// The call is recorded without what it needs, and replays red: its step says
			// why (not the store's words, which may name its host).
			c.e.log.Warn("recording: setup lookup failed; the call is recorded without its setup", "provider", o.Provider, "resource", o.Resource, "err", err)
			o.SetupLost = "the store's lookups failed or did not answer within " + recordLookupTimeout.String()
		}
	}
	c.r.Observe(o)
}

// recorderFor is rec recording the calls a snapshot built from e serves: their setup is
// looked up in the configuration (providers, keys) they were served under, not the one
// serve started with, which a reload may have renamed a provider of.
func recorderFor(rec adapter.Recorder, e *env) adapter.Recorder {
	if c, ok := rec.(callRecorder); ok {
		return callRecorder{c.r, e}
	}
	return rec
}

// recordLookupTimeout bounds recordedSetup's lookups (a var for a test).
var recordLookupTimeout = 2 * time.Second

// newRecorder records every transaction served into dir (emfa serve --record).
func newRecorder(e *env, configPath, dir string) *transcript.Recorder {
	return transcript.NewRecorder(transcript.RecorderOptions{Dir: dir, Config: recordedConfig(e, configPath), Log: e.log,
		Secrets: recordSecrets(e.cfg), LookupEnv: os.LookupEnv})
}

// recordedConfig is the configuration's text as transcripts copy it: the file at
// configPath (the embedded default without one), its remote webhooks inlined.
func recordedConfig(e *env, configPath string) string {
	text := string(defaultConfig)
	if configPath != "" {
		data, err := os.ReadFile(configPath)
		if err != nil {
			e.log.Error("recording: cannot read the configuration to copy into transcripts", "err", err)
		}
		text = string(data)
	}
	return inlineWebhooks(text, configDir(e.cfg), e.log)
}

// reconfigure tells a recording (rec, serve's Recorder when it records) of a reload to
// ne, whose configuration is read from configPath: the sessions under way are written
// as they were served, and later ones carry the new configuration and redact its
// secrets too.
func reconfigure(rec adapter.Recorder, ne *env, configPath string) {
	if c, ok := rec.(callRecorder); ok {
		c.r.Reconfigure(recordedConfig(ne, configPath), recordSecrets(ne.cfg))
	}
}

// recordSecrets is every secret value cfg holds, as the environment resolved it, for a
// recording to redact wherever it appears: each config.Secret (inbound credentials, the
// DSN, keys, senders' passwords and tokens, …), each remote provider's authentication
// secrets and the values of its headers that are secret by name, a builtin section's
// values secret by name (a notifier's Authorization), and in every URL the password of
// its user info and the values of its query parameters that are secret by name.
func recordSecrets(cfg *config.Config) []string {
	var out []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	secretsIn(reflect.ValueOf(cfg), false, add)
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineRemote {
			continue
		}
		w, _, err := remote.LoadWebhook(cfg.Providers[i].Remote, configDir(cfg))
		if err == nil {
			secretsIn(reflect.ValueOf(w), false, add)
		}
		// A webhookFile's placeholder values, which the recorded configuration copies
		// filled in wherever the webhook puts them (a signing key in a transform's text,
		// under a name that need not say so): each is a secret as the values map is,
		// but a URL (its secrets are urlSecrets'), a short one, which whole values of a
		// body would match by chance (a capability, a flag), and a field's name or a word
		// (transcript.PlainPlaceholder), which the transforms' text and the vendor's
		// bodies hold as such: redacted there, a replayed transform would read and send
		// another field.
		vals, _ := p.Remote["values"].(map[string]any)
		for k, v := range vals {
			switch v.(type) {
			case string, int, int64, uint64, float64: // a number fills a placeholder as its digits
				s := fmt.Sprint(v)
				if len(strings.TrimSpace(s)) >= minPlaceholderSecret && !isAbsoluteURL(s) && !transcript.PlainPlaceholder(k, s) {
					add(s)
				}
			}
		}
	}
	return out
}

// minPlaceholderSecret is the shortest placeholder value recordSecrets takes for a
// secret: the length transcript redacts a secret from inside a longer string at.
const minPlaceholderSecret = 8

// isAbsoluteURL reports whether s is a URL with a scheme and a host.
func isAbsoluteURL(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	return err == nil && u.IsAbs() && u.Host != ""
}

var secretType = reflect.TypeFor[config.Secret]()

// secretsIn adds the secrets under v; byName is true when v sits under a key that says
// it is secret. A typed section marks its secrets as config.Secret; a generic one (a
// builtin section) is read by its keys, as a recording reads a body.
func secretsIn(v reflect.Value, byName bool, add func(string)) {
	if !v.IsValid() {
		return
	}
	if v.Type() == secretType {
		add(v.String())
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			secretsIn(v.Elem(), byName, add)
		}
	case reflect.String:
		if byName {
			add(v.String())
		}
		urlSecrets(v.String(), add)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			secretsIn(v.Index(i), byName, add)
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		header := ""
		for _, k := range v.MapKeys() {
			if lk := strings.ToLower(k.String()); lk == "key" || lk == "name" {
				if h := v.MapIndex(k); h.Kind() == reflect.Interface && h.Elem().Kind() == reflect.String {
					header = h.Elem().String()
				}
			}
		}
		for _, k := range v.MapKeys() {
			key := k.String()
			secret := !strings.EqualFold(key, "key") && transcript.SecretName(key) ||
				strings.EqualFold(key, "value") && transcript.SecretName(header)
			secretsIn(v.MapIndex(k), secret, add)
		}
	case reflect.Struct:
		header := ""
		if f := v.FieldByName("Key"); f.IsValid() && f.Kind() == reflect.String {
			header = f.String() // remote.Header: {key, value}
		}
		if f, val := v.FieldByName("Name"), v.FieldByName("Value"); f.IsValid() && f.Kind() == reflect.String &&
			val.IsValid() && val.Type() == secretType && plainHeaders[strings.ToLower(f.String())] {
			return // a sender's Content-Type: a config.Secret as every sender header is, but none
		}
		t := v.Type()
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				secretsIn(v.Field(i), f.Name == "Value" && transcript.SecretName(header), add)
			}
		}
	}
}

// plainHeaders are headers that never carry a secret: a sender's header of one of these
// names is not redacted by value (its application/json would be, everywhere).
var plainHeaders = map[string]bool{"content-type": true, "accept": true, "accept-language": true, "user-agent": true, "cache-control": true}

// urlSecrets adds the password of a URL's user info and the values of its query
// parameters that are secret by name.
func urlSecrets(s string, add func(string)) {
	if !strings.Contains(s, "://") {
		return
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return
	}
	if pw, ok := u.User.Password(); ok {
		add(pw)
	}
	for name, vals := range u.Query() {
		if transcript.SecretName(name) {
			for _, v := range vals {
				add(v)
			}
		}
	}
}

// recordedSetup is what a recorded call needs created to replay — for a builtin
// provider, the user and the factors it names (secrets redacted; the operator re-supplies
// seeds) — and what replay sends for its passvalue: if the call succeeded, or was
// refused a code that was right when it came (builtin.ReplayInputOfRefused). An error is
// a lookup that failed (the store stalled past recordLookupTimeout): what the call needs
// is not known.
func (e *env) recordedSetup(o transcript.Observed) ([]transcript.Setup, string, error) {
	var p *config.Provider
	for i := range e.cfg.Providers {
		if strings.EqualFold(e.cfg.Providers[i].CredentialPrefix, o.Provider) {
			p = &e.cfg.Providers[i]
		}
	}
	if p == nil || p.Engine != config.EngineBuiltin || o.Status != 200 {
		return nil, "", nil
	}
	var body struct {
		Username   string `json:"username"`
		ID         string `json:"id"`
		Attributes struct {
			Username  string `json:"username"`
			Passvalue any    `json:"passvalue"`
		} `json:"attributes"`
	}
	if len(bytes.TrimSpace(o.Request)) == 0 {
		// A GET without a body names its user and factor in the query.
		q, _ := url.ParseQuery(o.Query)
		body.Username, body.ID = q.Get("username"), q.Get("id")
	} else if json.Unmarshal(o.Request, &body) != nil {
		return nil, "", nil
	}
	user := body.Username + body.Attributes.Username
	if user == "" {
		return nil, "", nil
	}
	// The answer is held until this returns; these lookups only shape the recording, and
	// are bounded: a stalled store must not hold an answer emfa made within its deadline.
	ctx, cancel := context.WithTimeout(context.Background(), recordLookupTimeout)
	defer cancel()
	u, err := e.store.GetUser(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var factors []store.Factor
	if o.Resource == provider.ResourceEnrollments {
		if factors, err = e.store.ListFactors(ctx, u.ID); err != nil {
			return nil, "", err
		}
	} else if body.ID != "" {
		f, err := e.store.GetFactor(ctx, body.ID)
		switch {
		case err == nil && f.UserID == u.ID:
			factors = []store.Factor{f}
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return nil, "", err
		}
	}
	out := []transcript.Setup{{User: user}}
	input := ""
	for _, f := range factors {
		if f.State != store.FactorActive && builtin.ActivationOf(&f) != builtin.ActivationOnFirstUse {
			// Neither offered to Verify nor answered for (disabled, or pending an
			// activation Verify plays no part in): replay would create it active and offer
			// it. Left out, the call names a factor replay does not have, refused as it was.
			continue
		}
		spec, err := transcript.FactorSetup(user, &f)
		if err != nil {
			e.log.Warn("recording: factor setup", "factor", f.ID, "err", err)
			continue
		}
		if f.ID == body.ID && o.Resource == provider.ResourceValidate && !succeeded(o.Response) {
			// A refused code that was right when it came (used already, or sent to a
			// locked factor) replays as that code, so that the replay fails where emfa
			// would accept it; a wrong one stays <redacted>.
			if pv, ok := body.Attributes.Passvalue.(string); ok {
				input = builtin.ReplayInputOfRefused(e.keys, &f, pv, o.Time)
			}
		} else if f.ID == body.ID && o.Resource == provider.ResourceValidate {
			input = recordedInput(&f)
			if f.Type == builtin.TypeHOTP {
				// After a success the counter is the one the code was accepted at; replay
				// must start there (a later setup never raises it).
				spec.Counter = f.Counter
			}
		}
		out = append(out, transcript.Setup{Factor: spec})
	}
	return out, input, nil
}

// succeeded reports whether a contract answer says SUCCESS.
func succeeded(resp []byte) bool {
	var a struct {
		Status string `json:"status"`
	}
	return json.Unmarshal(resp, &a) == nil && a.Status == "SUCCESS"
}

// recordedInput is what replay sends in place of a redacted passvalue that succeeded on
// f, as its type says (builtin.ReplayInput): a code generated from the seed (re-supplied
// by hand), the code replay's sender captured, or the stand-in replay enrolled.
func recordedInput(f *store.Factor) string { return builtin.ReplayInput(f) }

// placeholder is a {{name}} of a Verify webhook JSON (as remote.LoadWebhook fills it).
var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// inlineWebhooks is a configuration's text with each remote section that names a
// webhookFile by a plain path (relative to dir, or absolute) holding that webhook
// inline instead, its placeholders filled from values as written (a ${NAME} stays one):
// a transcript must replay where it is committed (a CI clone), where neither the
// recording's folder nor its machine's paths are. A path that starts with ${NAME}
// (${EMFA_SHARED_DIR}/verify/… for IBM's published files) is kept: each machine
// resolves it for itself. What cannot be inlined is kept as it is, and logged.
func inlineWebhooks(text, dir string, log *slog.Logger) string {
	var doc yaml.Node
	if yaml.Unmarshal([]byte(text), &doc) != nil || len(doc.Content) == 0 {
		return text
	}
	providers := mappingValue(doc.Content[0], "providers")
	if providers == nil || providers.Kind != yaml.SequenceNode {
		return text
	}
	changed := false
	for _, p := range providers.Content {
		section := mappingValue(p, "remote")
		if section == nil || section.Kind != yaml.MappingNode {
			continue
		}
		inlined, err := inlineWebhook(section, dir)
		if err != nil {
			log.Warn("recording: the webhook file stays a path in transcripts, which replay only where it is found", "err", err)
			continue
		}
		changed = changed || inlined
	}
	if !changed {
		return text
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if enc.Encode(&doc) != nil || enc.Close() != nil {
		return text
	}
	return buf.String()
}

// inlineWebhook replaces section's webhookFile and values with the webhook they name,
// merged under the section's other keys as remote.LoadWebhook merges them.
func inlineWebhook(section *yaml.Node, dir string) (bool, error) {
	file := mappingValue(section, "webhookFile")
	if file == nil || file.Kind != yaml.ScalarNode || strings.HasPrefix(strings.TrimSpace(file.Value), "${") {
		return false, nil
	}
	path := file.Value
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("webhookFile: %w", err)
	}
	if bytes.Contains(data, []byte("${")) {
		// Inline, the configuration's expansion would read it as a reference, or refuse
		// a "${" that is none (${ x}, ${0}): the transcript would not replay.
		return false, fmt.Errorf("webhookFile %s: holds a ${…}", path)
	}
	var section0 map[string]any
	if err := section.Decode(&section0); err != nil {
		return false, err
	}
	vals, _ := section0["values"].(map[string]any)
	delete(section0, "webhookFile")
	delete(section0, "values")
	filled := placeholder.ReplaceAllFunc(data, func(m []byte) []byte {
		v, ok := vals[string(placeholder.FindSubmatch(m)[1])]
		if !ok {
			return m
		}
		quoted, _ := json.Marshal(fmt.Sprint(v))
		return quoted[1 : len(quoted)-1]
	})
	dec := json.NewDecoder(bytes.NewReader(filled))
	dec.UseNumber()
	var fromFile any
	if err := dec.Decode(&fromFile); err != nil {
		return false, fmt.Errorf("webhookFile %s: %w", path, err)
	}
	t := reflect.TypeFor[remote.Webhook]()
	merged := mergeWebhook(t, webhookTree(t, fromFile), section0)
	var node yaml.Node
	if err := node.Encode(merged); err != nil {
		return false, err
	}
	*section = node
	return true, nil
}

// mappingValue is the value of key in a YAML mapping, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// webhookTree is v (decoded JSON) with only what a value of type t reads, each key of a
// struct spelled as its field's json tag (a Verify export's id, description… left
// out: the remote section, unlike a webhookFile, refuses keys it does not know).
func webhookTree(t reflect.Type, v any) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		out := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			if val, ok := jsonField(m, tag); ok {
				out[tag] = webhookTree(f.Type, val)
			}
		}
		return out
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				out[k] = webhookTree(t.Elem(), e)
			}
			return out
		}
	case reflect.Slice:
		if list, ok := v.([]any); ok {
			out := make([]any, len(list))
			for i, e := range list {
				out[i] = webhookTree(t.Elem(), e)
			}
			return out
		}
	}
	return plainNumbers(v)
}

// mergeWebhook is over decoded on top of base as encoding/json decodes into a value
// that already holds base: a struct's fields merge, a map's entries and anything else
// are replaced.
func mergeWebhook(t reflect.Type, base, over any) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bm, okB := base.(map[string]any)
	om, okO := over.(map[string]any)
	if !okB || !okO || (t.Kind() != reflect.Struct && t.Kind() != reflect.Map) {
		return webhookTree(t, over)
	}
	out := maps.Clone(bm)
	if t.Kind() == reflect.Map {
		for k, v := range om {
			out[k] = webhookTree(t.Elem(), v)
		}
		return out
	}
	for k, v := range om {
		f, ok := fieldByJSON(t, k)
		if !ok {
			continue // refused when the configuration was loaded
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out[tag] = mergeWebhook(f.Type, out[tag], v)
	}
	return out
}

// jsonField is m's value for a field tagged tag, matched as encoding/json matches.
func jsonField(m map[string]any, tag string) (any, bool) {
	if v, ok := m[tag]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, tag) {
			return v, true
		}
	}
	return nil, false
}

func fieldByJSON(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold *reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		if tag == key {
			return f, true
		}
		if fold == nil && strings.EqualFold(tag, key) {
			fold = &f
		}
	}
	if fold != nil {
		return *fold, true
	}
	return reflect.StructField{}, false
}

// plainNumbers turns json.Numbers into int64 or float64, which YAML writes as numbers.
func plainNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainNumbers(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainNumbers(e)
		}
		return out
	}
	return v
}
