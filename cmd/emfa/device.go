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
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

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

// cmdDevice is a command-line authenticator: it plays the phone of push approval,
// speaking the device API exactly as an app would.
func cmdDevice(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"device needs a subcommand: register, pending, approve, deny, cancel"}
	}
	sub := args[0]
	fs := flag.NewFlagSet("device "+sub, flag.ContinueOnError)
	statePath := fs.String("state", "", "file keeping the device's id and private key")
	switch sub {
	case "register":
		server := fs.String("server", "", "emfa's base URL, e.g. https://emfa.example.com")
		code := fs.String("code", "", "the activation code, or the registration URI")
		alg := fs.String("alg", builtin.AlgES256, "key algorithm: ES256 or Ed25519")
		name := fs.String("name", "", "device name shown to the user")
		if rest, err := parseFlags(fs, args[1:]); err != nil {
			return err
		} else if len(rest) > 0 {
			return usageError{"device register takes no arguments"}
		}
		return deviceRegister(ctx, *server, *code, *alg, *name, *statePath, stdout)
	case "pending":
		if rest, err := parseFlags(fs, args[1:]); err != nil {
			return err
		} else if len(rest) > 0 {
			return usageError{"device pending takes no arguments"}
		}
		st, key, err := loadDeviceState(*statePath)
		if err != nil {
			return err
		}
		data, err := deviceSend(ctx, st, key, http.MethodGet, "/v1/devices/challenges", nil)
		if err != nil {
			return err
		}
		return printRaw(stdout, data)
	case "approve", "deny", "cancel":
		number := fs.Int("number", -1, "the number shown at the login (number matching)")
		rest, err := parseFlags(fs, args[1:])
		if err != nil {
			return err
		}
		if len(rest) != 1 {
			return usageError{"device " + sub + " needs exactly one CHALLENGE id"}
		}
		st, key, err := loadDeviceState(*statePath)
		if err != nil {
			return err
		}
		body := map[string]any{"decision": sub}
		if *number >= 0 {
			body["number"] = *number
		}
		payload, _ := json.Marshal(body)
		data, err := deviceSend(ctx, st, key, http.MethodPost, "/v1/devices/challenges/"+url.PathEscape(rest[0]), payload)
		if err != nil {
			return err
		}
		return printRaw(stdout, data)
	}
	return usageError{"unknown device subcommand " + sub}
}

func deviceRegister(ctx context.Context, server, code, alg, name, statePath string, stdout io.Writer) error {
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
	if _, err := os.Stat(statePath); err == nil {
		return fmt.Errorf("%s exists: refusing to overwrite a device's key", statePath)
	}
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
	data, err := deviceSend(ctx, st, nil, http.MethodPost, "/v1/devices/register", payload)
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
	f, err := os.OpenFile(statePath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("device registered as %s, but its key could not be kept: %w", st.DeviceID, err)
	}
	_, werr := f.Write(append(state, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("device registered as %s, but its key could not be kept: %w", st.DeviceID, werr)
	}
	return printJSON(stdout, map[string]string{"deviceId": st.DeviceID, "server": st.Server, "alg": alg, "state": statePath})
}

func loadDeviceState(path string) (deviceState, crypto.Signer, error) {
	if path == "" {
		return deviceState{}, nil, usageError{"--state is required"}
	}
	var st deviceState
	data, err := os.ReadFile(path)
	if err != nil {
		return st, nil, err
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
func deviceSend(ctx context.Context, st deviceState, key crypto.Signer, method, path string, body []byte) ([]byte, error) {
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
		ts := strconv.FormatInt(clock().Unix(), 10)
		n := base64.RawURLEncoding.EncodeToString(nonce)
		msg := builtin.SigningString(st.DeviceID, method, req.URL.EscapedPath(), ts, n, sha256.Sum256(body))
		sig, err := builtin.SignDevice(key, msg)
		if err != nil {
			return nil, err
		}
		req.Header.Set(adapter.HeaderDeviceID, st.DeviceID)
		req.Header.Set(adapter.HeaderTimestamp, ts)
		req.Header.Set(adapter.HeaderNonce, n)
		req.Header.Set(adapter.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
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

// printRaw pretty-prints a JSON answer.
func printRaw(w io.Writer, data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return errors.New("answer is not JSON")
	}
	return printJSON(w, v)
}
