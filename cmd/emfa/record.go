package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
	"github.com/emfa/emfa/provider/builtin"
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
		Challenge: call.Challenge, Request: call.Request, Status: call.Status, Response: call.Response, Exchanges: call.Exchanges,
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
	return transcript.NewRecorder(transcript.RecorderOptions{Dir: dir, Config: text, Log: e.log})
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
	if json.Unmarshal(o.Request, &body) != nil {
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
