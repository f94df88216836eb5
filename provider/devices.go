package provider

import (
	"errors"
	"time"
)

// The device API's contract (push approval): what the HTTP adapter's /v1/devices routes
// exchange with the engine that keeps the devices, so the adapter knows the port only.

// Refusals of the device API; the adapter maps each to a status. Wrapped errors say why,
// for the log; a device sees only the sentinel's meaning.
var (
	// ErrDeviceAuth: a signed request did not authenticate (unknown device, bad
	// signature, stale timestamp, replayed nonce...).
	ErrDeviceAuth = errors.New("device authentication failed")
	// ErrActivation: an activation code unknown, expired or already used.
	ErrActivation = errors.New("activation code invalid, expired or already used")
	// ErrNoChallenge: no such challenge for this device.
	ErrNoChallenge = errors.New("no such challenge")
	// ErrChallengeClosed: the challenge was answered, withdrawn or timed out already.
	ErrChallengeClosed = errors.New("challenge no longer pending")
	// ErrInvalidDeviceRequest: a malformed request (unknown alg, unreadable key, unknown
	// decision).
	ErrInvalidDeviceRequest = errors.New("invalid request")
)

// Decision is a device's answer to a challenge.
type Decision string

const (
	Approve Decision = "approve"
	Deny    Decision = "deny"
	Cancel  Decision = "cancel"
)

// DeviceRegistration is what a device sends to register with an activation code.
type DeviceRegistration struct {
	ActivationCode string
	// PublicKey is base64 of the DER SubjectPublicKeyInfo.
	PublicKey string
	Alg       string
	Name      string
}

// SignedDeviceRequest is what the adapter hands over of a signed device call.
type SignedDeviceRequest struct {
	DeviceID, Method, Path, Timestamp, Nonce, Signature string
	BodySHA256                                          [32]byte
}

// DeviceChallenge is a pending challenge as its device sees it. The number of number
// matching is not in it: the user reads it on the login page and types it on the
// device, so an approval proves they are at that login.
type DeviceChallenge struct {
	ID             string    `json:"id"`
	User           string    `json:"user"`
	Message        string    `json:"message"`
	NumberMatching bool      `json:"numberMatching"`
	ExpiresAt      time.Time `json:"expiresAt"`
}
