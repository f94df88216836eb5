package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider"
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
		spec := &transcript.FactorSpec{Type: f.Type, User: user, ID: f.ID, Name: f.Label,
			Phone: f.Params["phone"], Email: f.Params["email"]}
		switch f.Type {
		case "totp", "hotp":
			spec.Secret = "<redacted>"
			if f.Type == "hotp" {
				spec.Counter = f.Counter + 1
			}
		case "question":
			spec.Question, spec.Answer = f.Params["question0"], "<redacted>"
		}
		out = append(out, transcript.Setup{Factor: spec})
	}
	return out
}
