package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"

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
		o.Setup, o.Input = c.e.recordedSetup(o)
	}
	c.r.Observe(o)
}

// newRecorder records every transaction served into dir (emfa serve --record).
func newRecorder(e *env, configPath, dir string) *transcript.Recorder {
	text := string(defaultConfig)
	if configPath != "" {
		data, err := os.ReadFile(configPath)
		if err != nil {
			e.log.Error("recording: cannot read the configuration to copy into transcripts", "err", err)
		}
		text = string(data)
	}
	return transcript.NewRecorder(transcript.RecorderOptions{Dir: dir, Config: text, Log: e.log, Secrets: recordSecrets(e.cfg)})
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
	}
	return out
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
		t := v.Type()
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				secretsIn(v.Field(i), f.Name == "Value" && transcript.SecretName(header), add)
			}
		}
	}
}

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
// seeds) — and what replay sends for its passvalue if the call succeeded.
func (e *env) recordedSetup(o transcript.Observed) ([]transcript.Setup, string) {
	var p *config.Provider
	for i := range e.cfg.Providers {
		if strings.EqualFold(e.cfg.Providers[i].CredentialPrefix, o.Provider) {
			p = &e.cfg.Providers[i]
		}
	}
	if p == nil || p.Engine != config.EngineBuiltin || o.Status != 200 {
		return nil, ""
	}
	var body struct {
		Username   string `json:"username"`
		ID         string `json:"id"`
		Attributes struct {
			Username string `json:"username"`
		} `json:"attributes"`
	}
	if len(bytes.TrimSpace(o.Request)) == 0 {
		// A GET without a body names its user and factor in the query.
		q, _ := url.ParseQuery(o.Query)
		body.Username, body.ID = q.Get("username"), q.Get("id")
	} else if json.Unmarshal(o.Request, &body) != nil {
		return nil, ""
	}
	user := body.Username + body.Attributes.Username
	if user == "" {
		return nil, ""
	}
	// The answer is held until this returns; these lookups only shape the recording.
	ctx := context.Background()
	u, err := e.store.GetUser(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ""
	}
	if err != nil {
		e.log.Warn("recording: setup lookup", "err", err)
		return nil, ""
	}
	var factors []store.Factor
	if o.Resource == provider.ResourceEnrollments {
		factors, _ = e.store.ListFactors(ctx, u.ID)
	} else if f, err := e.store.GetFactor(ctx, body.ID); err == nil && f.UserID == u.ID {
		factors = []store.Factor{f}
	}
	out := []transcript.Setup{{User: user}}
	input := ""
	for _, f := range factors {
		spec, err := recordedFactor(user, &f)
		if err != nil {
			e.log.Warn("recording: factor setup", "factor", f.ID, "err", err)
			continue
		}
		if f.ID == body.ID && o.Resource == provider.ResourceValidate {
			input = recordedInput(&f)
			if f.Type == builtin.TypeHOTP {
				// After a success the counter is the one the code was accepted at; replay
				// must start there (a later setup never raises it).
				spec.Counter = f.Counter
			}
		}
		out = append(out, transcript.Setup{Factor: spec})
	}
	return out, input
}

// recordedInput is what replay sends in place of a redacted passvalue that succeeded on
// f: a code generated from the seed (re-supplied by hand), the code replay's sender
// captured, or the stand-in answer replay enrolled.
func recordedInput(f *store.Factor) string {
	switch f.Type {
	case builtin.TypeTOTP:
		return fmt.Sprintf("${totp(%s, %s, %s, %s)}", builtin.Redacted, f.Params["digits"], f.Params["period"], f.Params["algorithm"])
	case builtin.TypeHOTP:
		return fmt.Sprintf("${hotp(%s, %d, %s, %s)}", builtin.Redacted, f.Counter, f.Params["digits"], f.Params["algorithm"])
	case builtin.TypeSMSOTP, builtin.TypeVoiceCall:
		return "${sent(" + f.Params["phone"] + ")}"
	case builtin.TypeEmailOTP:
		return "${sent(" + f.Params["email"] + ")}"
	case builtin.TypeQuestion:
		return "${answer()}"
	}
	return ""
}

// recordedFactor is the setup of a factor as its type records it (builtin.Recorded:
// secrets redacted), in a transcript's terms.
func recordedFactor(user string, f *store.Factor) (*transcript.FactorSpec, error) {
	values, ok := builtin.Recorded(f)
	if !ok {
		return nil, fmt.Errorf("no setup for %s factors", f.Type)
	}
	fields, _ := builtin.FieldsOf(f.Type)
	all := map[string]any{"type": f.Type, "user": user, "id": f.ID, "name": f.Label}
	for _, field := range fields {
		vs := values[field.Name]
		if len(vs) == 0 || vs[0] == "" {
			continue
		}
		switch {
		case field.Kind == builtin.FieldList:
			all[field.Name] = vs
		case field.Kind == builtin.FieldInt:
			if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil {
				all[field.Name] = n
			}
		default:
			all[field.Name] = vs[0]
		}
	}
	data, err := yaml.Marshal(all)
	if err != nil {
		return nil, err
	}
	var spec transcript.FactorSpec
	if err := yaml.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	return &spec, nil
}
