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

// callRecorder hands the adapter's recorded calls to a transcript recorder.
type callRecorder struct{ r *transcript.Recorder }

func (c callRecorder) Record(call adapter.RecordedCall) {
	c.r.Observe(transcript.Observed{
		Time: call.Time, Provider: call.Provider, Resource: call.Resource, Method: call.Method, Auth: call.Auth,
		Request: call.Request, Status: call.Status, Response: call.Response, Exchanges: call.Exchanges,
	})
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
	return transcript.NewRecorder(transcript.RecorderOptions{
		Dir: dir, Config: text, Log: e.log, Setup: e.recordedSetup,
	})
}

// recordedSetup is what a recorded call needs created to replay: for a builtin provider,
// the user and the factors it names (secrets redacted; the operator re-supplies them).
func (e *env) recordedSetup(o transcript.Observed) []transcript.Setup {
	var p *config.Provider
	for i := range e.cfg.Providers {
		if strings.EqualFold(e.cfg.Providers[i].CredentialPrefix, o.Provider) {
			p = &e.cfg.Providers[i]
		}
	}
	if p == nil || p.Engine != config.EngineBuiltin {
		return nil
	}
	var body struct {
		Username   string `json:"username"`
		ID         string `json:"id"`
		Attributes struct {
			Username string `json:"username"`
		} `json:"attributes"`
	}
	if json.Unmarshal(o.Request, &body) != nil {
		return nil
	}
	user := body.Username + body.Attributes.Username
	if user == "" {
		return nil
	}
	// The answer has been sent; this lookup only shapes the recording.
	ctx := context.Background()
	u, err := e.store.GetUser(ctx, user)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		e.log.Warn("recording: setup lookup", "err", err)
		return nil
	}
	var factors []store.Factor
	if o.Resource == provider.ResourceEnrollments {
		factors, _ = e.store.ListFactors(ctx, u.ID)
	} else if f, err := e.store.GetFactor(ctx, body.ID); err == nil && f.UserID == u.ID {
		factors = []store.Factor{f}
	}
	out := []transcript.Setup{{User: user}}
	for _, f := range factors {
		spec, err := recordedFactor(user, &f)
		if err != nil {
			e.log.Warn("recording: factor setup", "factor", f.ID, "err", err)
			continue
		}
		out = append(out, transcript.Setup{Factor: spec})
	}
	return out
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
		v := values.Get(field.Name)
		if v == "" {
			continue
		}
		all[field.Name] = v
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && field.Kind == builtin.FieldInt {
			all[field.Name] = n
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
