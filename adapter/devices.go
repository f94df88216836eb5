package adapter

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/emfa/emfa/provider"
)

// Devices is the backend of the device API (push approval); the built-in engine's
// device service is it (cmd checks that at compile time).
// Devices carry no Verify credentials: they register with an activation code and sign
// every later call with their own key.
type Devices interface {
	Register(ctx context.Context, r provider.DeviceRegistration) (deviceID string, err error)
	// Authenticate checks a signed call; a refusal wraps provider.ErrDeviceAuth.
	Authenticate(ctx context.Context, r provider.SignedDeviceRequest) error
	Pending(ctx context.Context, deviceID string) ([]provider.DeviceChallenge, error)
	Answer(ctx context.Context, deviceID, challengeID string, d provider.Decision, number *int) (provider.Status, error)
}

// Headers of a signed device call (README: "Push approval and the device API").
const (
	HeaderDeviceID  = "X-Emfa-Device"
	HeaderTimestamp = "X-Emfa-Timestamp"
	HeaderNonce     = "X-Emfa-Nonce"
	HeaderSignature = "X-Emfa-Signature"
)

// ctxDevice is the echo context key of an authenticated device's id.
const ctxDevice = "emfa.device"

type deviceAPI struct {
	s *Server
	d Devices
}

// routeDevices serves /v1/devices. Only registration is unsigned.
func (s *Server) routeDevices(e *echo.Echo, d Devices) {
	api := deviceAPI{s: s, d: d}
	g := e.Group("/v1/devices")
	g.POST("/register", api.register)
	g.GET("/challenges", api.pending, api.signed)
	g.POST("/challenges/:id", api.answer, api.signed)
}

// signed authenticates a device call. The body is read here (within the body limit) to
// hash it, then handed on to the handler.
func (api deviceAPI) signed(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		body, err := peekBody(c)
		if err != nil {
			return err
		}
		sr := provider.SignedDeviceRequest{
			DeviceID: r.Header.Get(HeaderDeviceID), Method: r.Method, Path: r.URL.EscapedPath(),
			Timestamp: r.Header.Get(HeaderTimestamp), Nonce: r.Header.Get(HeaderNonce),
			Signature: r.Header.Get(HeaderSignature), BodySHA256: sha256.Sum256(body),
		}
		// A device id no store could hold (PostgreSQL refuses invalid UTF-8) is refused
		// here, like an unknown one.
		err = nil
		if why := provider.CheckIdentifier("device id", sr.DeviceID, provider.MaxFactorIDBytes); why != "" {
			err = fmt.Errorf("%w: %s", provider.ErrDeviceAuth, why)
		} else {
			err = api.d.Authenticate(r.Context(), sr)
		}
		if err != nil {
			if !errors.Is(err, provider.ErrDeviceAuth) {
				return api.fault(c, err)
			}
			// One answer for every refusal; the reason goes to the log only.
			api.s.authFailures.Add(1)
			api.s.log.Warn("device authentication failed", "reason", err.Error(), "device", provider.Printable(sr.DeviceID, provider.MaxFactorIDBytes),
				"remote", c.RealIP(), "path", loggedPath(c), "request_id", callRequestID(c))
			return &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Msg: "device authentication failed"}
		}
		c.Set(ctxDevice, sr.DeviceID)
		return next(c)
	}
}

func (api deviceAPI) register(c echo.Context) error {
	var body struct {
		ActivationCode string `json:"activationCode"`
		PublicKey      string `json:"publicKey"`
		Alg            string `json:"alg"`
		Name           string `json:"name"`
	}
	if err := decode(c, &body); err != nil {
		return err
	}
	if body.ActivationCode == "" || body.PublicKey == "" || body.Alg == "" {
		return badRequest("activationCode, publicKey and alg are required")
	}
	id, err := api.d.Register(c.Request().Context(), provider.DeviceRegistration{
		ActivationCode: body.ActivationCode, PublicKey: body.PublicKey, Alg: body.Alg, Name: body.Name,
	})
	if errors.Is(err, provider.ErrActivation) {
		// Unknown, expired and used codes look alike: a code cannot be probed.
		api.s.log.Warn("device registration refused", "reason", err.Error(), "remote", c.RealIP(),
			"request_id", callRequestID(c))
		return &Error{Status: http.StatusUnauthorized, ID: "unauthorized", Msg: "activation code invalid, expired or already used"}
	}
	if err != nil {
		return api.fail(c, err)
	}
	return c.JSON(http.StatusCreated, map[string]string{"deviceId": id})
}

func (api deviceAPI) pending(c echo.Context) error {
	list, err := api.d.Pending(c.Request().Context(), c.Get(ctxDevice).(string))
	if err != nil {
		return api.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]any{"challenges": list})
}

func (api deviceAPI) answer(c echo.Context) error {
	var body struct {
		Decision string `json:"decision"`
		Number   *int   `json:"number"`
	}
	if err := decode(c, &body); err != nil {
		return err
	}
	if provider.CheckIdentifier("challenge", c.Param("id"), provider.MaxTransactionIDBytes) != "" {
		return &Error{Status: http.StatusNotFound, ID: "not_found", Msg: "no such challenge"} // no store sees it
	}
	status, err := api.d.Answer(c.Request().Context(), c.Get(ctxDevice).(string), c.Param("id"),
		provider.Decision(body.Decision), body.Number)
	if err != nil {
		return api.fail(c, err)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": string(status)})
}

// fail maps the device service's refusals to statuses; anything else is a fault.
func (api deviceAPI) fail(c echo.Context, err error) error {
	switch {
	case errors.Is(err, provider.ErrInvalidDeviceRequest):
		return badRequest(err.Error())
	case errors.Is(err, provider.ErrNoChallenge):
		return &Error{Status: http.StatusNotFound, ID: "not_found", Msg: "no such challenge"}
	case errors.Is(err, provider.ErrChallengeClosed):
		return &Error{Status: http.StatusConflict, ID: "conflict", Msg: "challenge no longer pending", Err: err}
	}
	return api.fault(c, err)
}

// fault is a server error; a device call that ran out of time is a 503 the device may
// retry, not a business answer.
func (api deviceAPI) fault(c echo.Context, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		api.s.log.Warn("device call deadline exceeded", "path", c.Path(), "err", err,
			"request_id", callRequestID(c))
		return &Error{Status: http.StatusServiceUnavailable, ID: "unavailable", Msg: "try again", Err: err}
	}
	return err
}
