package main

import (
	"fmt"
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
		return nil, fmt.Errorf("no sender %q under delivery", name)
	}
	build := e.newSender
	if e.senderOverride != nil {
		build = e.senderOverride
	}
	s, err := build(d)
	if err != nil {
		return nil, fmt.Errorf("delivery.%s: %w", name, err)
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
