package main

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
)

// What each scenario's answers must be; anything else is an error.

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// checkEnrollments: the stub's one phone, as IBM's mapping lists it.
func checkEnrollments(body []byte) error {
	var got []struct {
		Capability string `json:"capability"`
		ID         string `json:"id"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return fmt.Errorf("enrollments: %v: %.200s", err, body)
	}
	var caps []string
	for _, e := range got {
		if e.ID != stubDevice {
			return fmt.Errorf("enrollments: id %q, want %q", e.ID, stubDevice)
		}
		caps = append(caps, e.Capability)
	}
	slices.Sort(caps)
	if !slices.Equal(caps, []string{"hotp", "push", "smsotp"}) {
		return fmt.Errorf("enrollments: capabilities %v, want [hotp push smsotp]", caps)
	}
	return nil
}

type contractStatus struct {
	Status        string `json:"status"`
	TransactionID string `json:"transactionId"`
}

func checkStatus(want string) func([]byte) error {
	return func(body []byte) error {
		var a contractStatus
		if err := json.Unmarshal(body, &a); err != nil {
			return fmt.Errorf("%v: %.200s", err, body)
		}
		if a.Status != want {
			return fmt.Errorf("status %s, want %s", a.Status, want)
		}
		return nil
	}
}

func checkPending(body []byte) error {
	var a contractStatus
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("%v: %.200s", err, body)
	}
	if a.Status != "PENDING" || a.TransactionID == "" {
		return fmt.Errorf("initiate: status %q transactionId %q, want PENDING and an id", a.Status, a.TransactionID)
	}
	return nil
}

func checkPreauth(body []byte) error {
	var d duoAnswer
	if err := json.Unmarshal(body, &d); err != nil || d.Stat != "OK" || len(d.Response.Devices) != 1 {
		return fmt.Errorf("preauth: %.200s", body)
	}
	return nil
}

func checkTxid(body []byte) error {
	var d duoAnswer
	if err := json.Unmarshal(body, &d); err != nil || d.Stat != "OK" || d.Response.TxID == "" {
		return fmt.Errorf("auth: %.200s", body)
	}
	return nil
}
