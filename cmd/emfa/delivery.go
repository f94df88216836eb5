package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/builtin/delivery"
)

// senderSet holds the senders built from the configuration's delivery section, each once
// per process however many providers name it.
type senderSet struct {
	mu     sync.Mutex
	byName map[string]delivery.Sender // by lower-case name (viper lower-cases map keys)
}

// sender returns the sender called name, building it on first use; nil for "".
func (e *env) sender(name string) (delivery.Sender, error) {
	if name == "" {
		return nil, nil
	}
	key := strings.ToLower(name)
	e.senders.mu.Lock()
	defer e.senders.mu.Unlock()
	if s, ok := e.senders.byName[key]; ok {
		return s, nil
	}
	d, ok := e.cfg.DeliveryNamed(name)
	if !ok {
		return nil, errors.New(e.cfg.NoSender(name))
	}
	build := e.newSender
	if e.senderOverride != nil {
		build = e.senderOverride
	}
	unset := e.cfg.Unset("delivery." + name)
	if unset {
		// A command that sends nothing (factors add) loaded without this sender's secret:
		// build it to know what it serves, with a stand-in that is never sent.
		d = withStandInSecrets(d)
	}
	s, err := build(d)
	if err != nil {
		return nil, fmt.Errorf("delivery.%s: %w", name, err)
	}
	if unset {
		s = unsentSender{s, name}
	}
	if e.senders.byName == nil {
		e.senders.byName = map[string]delivery.Sender{}
	}
	e.senders.byName[key] = s
	return s, nil
}

// newSender is the config-type → constructor step for senders.
func (e *env) newSender(d config.Delivery) (delivery.Sender, error) {
	switch d.Type {
	case config.DeliverySMTP:
		return delivery.NewSMTP(delivery.SMTPOptions{
			Host: d.Host, Port: d.Port, TLS: d.TLS, Username: d.Username, Password: d.Password,
			AllowPlaintextAuth: d.AllowPlaintextAuth, From: d.From, Timeout: d.Timeout,
		})
	case config.DeliveryTwilio:
		t, err := delivery.NewTwilio(delivery.TwilioOptions{
			AccountSID: d.AccountSID, AuthToken: d.AuthToken, From: d.From, BaseURL: d.BaseURL, Timeout: d.Timeout,
		})
		if err == nil {
			e.closers = append(e.closers, closeFunc(t.Close))
		}
		return t, err
	case config.DeliveryHTTP:
		headers := make([]delivery.Header, len(d.Headers))
		for i, h := range d.Headers {
			headers[i] = delivery.Header{Name: h.Name, Value: h.Value}
		}
		h, err := delivery.NewHTTP(delivery.HTTPOptions{
			URL: d.URL, Method: d.Method, Headers: headers, Body: d.Body, ExpectedStatus: d.ExpectedStatus, Timeout: d.Timeout,
		})
		if err == nil {
			e.closers = append(e.closers, closeFunc(h.Close))
		}
		return h, err
	case config.DeliveryLog:
		return delivery.NewLog(e.log), nil
	}
	return nil, fmt.Errorf("unknown sender type %q", d.Type)
}

// closeFunc adapts a sender's Close to provider.Closer.
type closeFunc func()

func (f closeFunc) Close() error { f(); return nil }

// withStandInSecrets fills what d's unset variables left empty with stand-ins of the
// right shape.
func withStandInSecrets(d config.Delivery) config.Delivery {
	const standIn = "unset-secret"
	d.Password = cmp.Or(d.Password, standIn)
	d.AuthToken = cmp.Or(d.AuthToken, standIn)
	d.AccountSID = cmp.Or(d.AccountSID, "AC"+strings.Repeat("0", 32))
	d.Host = cmp.Or(d.Host, "unset.invalid")
	d.URL = cmp.Or(d.URL, "https://unset.invalid/")
	d.Headers = slices.Clone(d.Headers)
	for i := range d.Headers {
		d.Headers[i].Value = cmp.Or(d.Headers[i].Value, standIn)
	}
	return d
}

// unsentSender is a sender whose secret was not in the environment: it never sends.
type unsentSender struct {
	delivery.Sender
	name string
}

func (u unsentSender) Send(context.Context, delivery.Message) error {
	return fmt.Errorf("delivery.%s: its secret is not set in the environment", u.name)
}
