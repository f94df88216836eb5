package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin"
)

func init() { factorAdders[builtin.TypePush] = addPush }

// addPush creates a pending push device and prints its single-use activation code.
func addPush(fs *flag.FlagSet) addFunc {
	label := fs.String("name", "", "label of the device until it registers")
	return func(ctx context.Context, e *env, user string, stdout io.Writer) error {
		engine, err := e.pushEngine()
		if err != nil {
			return err
		}
		enrolled, err := engine.EnrollPush(ctx, user, builtin.PushSpec{Label: *label})
		if err != nil {
			return userErr(user, err)
		}
		f := enrolled.Factor
		out := map[string]any{
			"id": f.ID, "type": f.Type, "user": user, "name": f.Label, "state": f.State,
			"activationCode": enrolled.ActivationCode, "expiresAt": enrolled.ExpiresAt.UTC().Format(time.RFC3339),
			"registrationURI": enrolled.RegistrationURI,
		}
		if enrolled.RegistrationURL != "" {
			out["registrationURL"] = enrolled.RegistrationURL
		}
		return printJSON(stdout, out)
	}
}

// pushProvider is the first builtin provider exposing push: its settings (activation
// lifetime, serverURL) apply to new devices.
func (e *env) pushProvider() (config.Provider, bool) {
	for _, p := range e.cfg.Providers {
		if p.Engine == config.EngineBuiltin && slices.ContainsFunc(p.Capabilities, func(c string) bool {
			return strings.EqualFold(c, builtin.TypePush)
		}) {
			return p, true
		}
	}
	return config.Provider{}, false
}

func (e *env) pushEngine() (*builtin.Engine, error) {
	p, ok := e.pushProvider()
	if !ok {
		return nil, errors.New("no builtin provider exposes the push capability")
	}
	return e.builtinEngine(p)
}

var _ adapter.Devices = (*builtin.Devices)(nil)

// devices is the device API's backend, or nil (no device routes) when no builtin
// provider exposes push.
func (e *env) devices() (adapter.Devices, error) {
	if _, ok := e.pushProvider(); !ok {
		return nil, nil
	}
	return builtin.NewDevices(builtin.DevicesOptions{Store: e.store, Now: e.now, Log: e.log})
}

// pushOptions turn a provider's push configuration into the engine's.
func (e *env) pushOptions(p config.Push) builtin.PushOptions {
	o := builtin.PushOptions{
		Lifetime: p.Lifetime, NumberMatching: p.NumberMatching, ActivationLifetime: p.ActivationLifetime,
		ServerURL: p.ServerURL, Log: e.log,
	}
	if n := p.Notifier; n != nil {
		header := http.Header{}
		for _, h := range n.Headers {
			header.Add(h.Name, h.Value.Reveal())
		}
		o.Notifier = builtin.NewHTTPNotifier(n.URL, header, n.Timeout)
	}
	return o
}
