package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DecodeJSON decodes a JSON document into CEL input: objects become map[string]any, arrays
// []any, and numbers int64 when written without a fraction or exponent (and in range), float64
// otherwise, so that body.count + 1 is integer arithmetic in CEL. Empty input decodes to an empty
// object, which is what an incoming transform sees for an empty response body.
func DecodeJSON(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("transform: decode json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("transform: decode json: data after the top-level value")
	}
	return normalizeNumbers(v)
}

// normalizeNumbers replaces the json.Number values in v, in place.
func normalizeNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return number(v)
	case map[string]any:
		for k, e := range v {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = n
		}
	case []any:
		for i, e := range v {
			n, err := normalizeNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
	}
	return v, nil
}

// number converts a JSON number: an integer literal that fits stays int64, anything else (a
// fraction, an exponent, an integer beyond int64) is float64.
func number(n json.Number) (any, error) {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("transform: decode json: number out of range")
	}
	return f, nil
}
