package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/adapter"
	"github.com/emfa/emfa/provider/builtin"
)

// deviceState is what `emfa device register` keeps: the device's identity and key.
type deviceState struct {
	Server   string `json:"server"`
	DeviceID string `json:"deviceId"`
	Alg      string `json:"alg"`
	// PrivateKey is base64 of the PKCS #8 DER private key.
	PrivateKey string `json:"privateKey"`
}

// deviceCmd is a command-line authenticator: it plays the phone of push approval,
// speaking the device API exactly as an app would.
func (d *deps) deviceCmd() *cobra.Command {
	var statePath string
	stateFlag := func(c *cobra.Command) *cobra.Command {
		c.Flags().StringVar(&statePath, "state", "", "`FILE` keeping the device's id and private key")
		return c
	}
	var server, code, alg, name string
	register := stateFlag(&cobra.Command{
		Use:   "register --server URL --code CODE --state FILE",
		Short: "generate a key pair and register it with an activation code (or a registration URI)",
		Example: `  emfa device register --server https://emfa.example.com --code 7dq3… --state phone.json
  emfa device register --code 'emfa://register?server=https%3A%2F%2Femfa.example.com&code=7dq3…' --state phone.json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return d.deviceRegister(c.Context(), server, code, alg, name, statePath)
		},
	})
	register.Flags().StringVar(&server, "server", "", "emfa's base URL, e.g. https://emfa.example.com")
	register.Flags().StringVar(&code, "code", "", "the activation code, or the registration URI")
	once(register.Flags(), true, "code")
	register.Flags().StringVar(&alg, "alg", builtin.AlgES256, "key algorithm: ES256 or Ed25519")
	register.Flags().StringVar(&name, "name", "", "device name shown to the user")
	pending := stateFlag(&cobra.Command{
		Use:     "pending --state FILE",
		Short:   "the device's pending challenges, as JSON",
		Example: "  emfa device pending --state phone.json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			st, key, err := loadDeviceState(statePath)
			if err != nil {
				return err
			}
			data, err := d.deviceSend(c.Context(), st, key, http.MethodGet, "/v1/devices/challenges", nil)
			if err != nil {
				return err
			}
			return printRaw(d.stdout, data)
		},
	})
	var number int
	answer := func(decision, short string) *cobra.Command {
		c := stateFlag(&cobra.Command{
			Use:     decision + " CHALLENGE --state FILE",
			Short:   short,
			Example: "  emfa device " + decision + " q7… --state phone.json --number 42",
			Args:    exactly(1, "exactly one CHALLENGE id"),
			RunE: func(c *cobra.Command, args []string) error {
				st, key, err := loadDeviceState(statePath)
				if err != nil {
					return err
				}
				body := map[string]any{"decision": decision}
				if number >= 0 {
					body["number"] = number
				}
				payload, _ := json.Marshal(body)
				data, err := d.deviceSend(c.Context(), st, key, http.MethodPost, "/v1/devices/challenges/"+url.PathEscape(args[0]), payload)
				if err != nil {
					return err
				}
				return printRaw(d.stdout, data)
			},
		})
		c.Flags().IntVar(&number, "number", -1, "the number shown at the login (number matching)")
		return c
	}
	return group("device", "play a phone for push approval: register, pending, approve, deny, cancel", `  emfa device register --server https://emfa.example.com --code 7dq3… --state phone.json
  emfa device pending --state phone.json
  emfa device approve q7… --state phone.json --number 42`,
		register, pending, answer("approve", "approve a challenge"), answer("deny", "deny a challenge"), answer("cancel", "cancel a challenge"))
}

func (d *deps) deviceRegister(ctx context.Context, server, code, alg, name, statePath string) error {
	if statePath == "" {
		return usageError{"device register needs --state"}
	}
	// The code may be the whole registration URI (emfa://register?server=…&code=…, or
	// the https form with the code in the fragment).
	if u, err := url.Parse(code); err == nil && u.Scheme != "" {
		q := u.Query()
		if u.Fragment != "" {
			q, _ = url.ParseQuery(u.Fragment)
		}
		if server == "" {
			server = q.Get("server")
			if server == "" && u.Scheme != "emfa" { // emfa's own address, any path prefix kept
				server = u.Scheme + "://" + u.Host + strings.TrimSuffix(u.Path, "/v1/devices/register")
			}
		}
		code = q.Get("code")
	}
	if server == "" || code == "" {
		return usageError{"device register needs --server and --code (or a registration URI as --code)"}
	}
	if alg != builtin.AlgES256 && alg != builtin.AlgEd25519 {
		return usageError{fmt.Sprintf("--alg: must be %s or %s, not %q", builtin.AlgES256, builtin.AlgEd25519, alg)}
	}
	// The state file is made first, empty: the activation code is spent by the
	// registration, and a key that cannot be kept then (a folder that is not there, one
	// not writable) is a device nobody can ever answer with.
	f, err := os.OpenFile(statePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s exists: refusing to overwrite a device's key", statePath)
	}
	if err != nil {
		return fmt.Errorf("--state: %w (the activation code is not spent)", err)
	}
	kept := false
	defer func() {
		if !kept {
			f.Close()
			os.Remove(statePath)
		}
	}()
	key, err := builtin.GenerateDeviceKey(alg)
	if err != nil {
		return err
	}
	pub, err := builtin.EncodePublicKey(key)
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(map[string]string{"activationCode": code, "publicKey": pub, "alg": alg, "name": name})
	st := deviceState{Server: strings.TrimRight(server, "/"), Alg: alg}
	data, err := d.deviceSend(ctx, st, nil, http.MethodPost, "/v1/devices/register", payload)
	if err != nil {
		return err
	}
	var out struct {
		DeviceID string `json:"deviceId"`
	}
	if err := json.Unmarshal(data, &out); err != nil || out.DeviceID == "" {
		return fmt.Errorf("register: unexpected answer %s", data)
	}
	st.DeviceID = out.DeviceID
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	st.PrivateKey = base64.StdEncoding.EncodeToString(der)
	state, _ := json.MarshalIndent(st, "", "  ")
	kept = true // registered: whatever is written stays, for the operator to see
	_, werr := f.Write(append(state, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("device registered as %s, but its key could not be kept: %w", st.DeviceID, werr)
	}
	return printJSON(d.stdout, map[string]string{"deviceId": st.DeviceID, "server": st.Server, "alg": alg, "state": statePath})
}

func loadDeviceState(path string) (deviceState, crypto.Signer, error) {
	if path == "" {
		return deviceState{}, nil, usageError{"--state is required"}
	}
	var st deviceState
	data, err := os.ReadFile(path)
	if err != nil {
		return st, nil, fmt.Errorf("device state: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, nil, fmt.Errorf("%s: %w", path, err)
	}
	der, err := base64.StdEncoding.DecodeString(st.PrivateKey)
	if err != nil {
		return st, nil, fmt.Errorf("%s: privateKey: %w", path, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return st, nil, fmt.Errorf("%s: privateKey: %w", path, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok || st.Server == "" || st.DeviceID == "" {
		return st, nil, fmt.Errorf("%s: not a device state file", path)
	}
	return st, key, nil
}

// deviceSend sends a device request, signed when key is set, and returns the body of a
// 2xx answer; any other answer is an error carrying emfa's message.
func (d *deps) deviceSend(ctx context.Context, st deviceState, key crypto.Signer, method, path string, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, st.Server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if key != nil {
		nonce := make([]byte, 16)
		rand.Read(nonce)
		ts := strconv.FormatInt(d.now().Unix(), 10)
		n := base64.RawURLEncoding.EncodeToString(nonce)
		// The path signed is the one emfa routes (path), not the URL's: a server reached
		// under a path (https://host/mfa, a proxy stripping /mfa) sees the request without
		// it. Before, the prefix was signed, and every call through it was refused.
		msg := builtin.SigningString(st.DeviceID, method, path, ts, n, sha256.Sum256(body))
		sig, err := builtin.SignDevice(key, msg)
		if err != nil {
			return nil, err
		}
		req.Header.Set(adapter.HeaderDeviceID, st.DeviceID)
		req.Header.Set(adapter.HeaderTimestamp, ts)
		req.Header.Set(adapter.HeaderNonce, n)
		req.Header.Set(adapter.HeaderSignature, sig)
	}
	resp, err := deviceClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode >= 300 && resp.StatusCode < 400 && loc != "" {
		return nil, fmt.Errorf("%s %s: %d: redirected to %s, not followed (give emfa's address itself)", method, path, resp.StatusCode, loc)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			MessageDescription string `json:"messageDescription"`
		}
		if json.Unmarshal(data, &e) == nil && e.MessageDescription != "" {
			return nil, fmt.Errorf("%s %s: %d: %s", method, path, resp.StatusCode, e.MessageDescription)
		}
		return nil, fmt.Errorf("%s %s: %d", method, path, resp.StatusCode)
	}
	return data, nil
}

// deviceClient follows no redirect: following one would send the activation code, or a
// signed call with its unused nonce, to an address the state or --server does not name
// (the notifier and the senders refuse them too).
var deviceClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// printRaw pretty-prints a JSON answer.
func printRaw(w io.Writer, data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return errors.New("answer is not JSON")
	}
	return printJSON(w, v)
}
