package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// Options tune loading; the zero value reads the process environment.
type Options struct {
	// LookupEnv resolves ${NAME} references and EMFA_* overrides; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

func (o Options) lookup() func(string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv
	}
	return os.LookupEnv
}

// Load reads, expands, decodes, defaults and validates the configuration file at path.
// The returned error lists every problem found (see Errors).
func Load(path string, opts Options) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	format := strings.TrimPrefix(filepath.Ext(path), ".")
	if format == "" || format == "yml" {
		format = "yaml"
	}
	cfg, err := Parse(data, format, opts)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.Source = path
	return cfg, nil
}

// Parse is Load on bytes already read; format is yaml or json.
func Parse(data []byte, format string, opts Options) (*Config, error) {
	v := viper.New()
	v.SetConfigType(format)
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse %s: %w", format, err)
	}
	settings := v.AllSettings()

	lookup := opts.lookup()
	var errs Errors
	applyEnvOverrides(settings, lookup)
	// Remote sections are taken from the document itself below, keys' case intact.
	if providers, ok := settings["providers"].([]any); ok {
		for _, p := range providers {
			if m, ok := p.(map[string]any); ok {
				delete(m, "remote")
			}
		}
	}
	expanded := expandTree(settings, "", lookup, &errs)
	// Map iteration made the order random; sort so the same file gives the same report.
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })

	var cfg Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		Result:           &cfg,
		ErrorUnused:      true, // a typo in a key is an error, not a silently ignored setting
		WeaklyTypedInput: true, // EMFA_* overrides arrive as strings
		DecodeHook: mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
		),
	})
	if err != nil {
		return nil, err
	}
	if err := dec.Decode(expanded); err != nil {
		errs = append(errs, decodeErrors(err)...)
	}
	if err := restoreRemote(&cfg, data, format, lookup, &errs); err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.applyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decodeErrors splits mapstructure's combined error into one entry per problem.
func decodeErrors(err error) Errors {
	var out Errors
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			out = append(out, decodeErrors(e)...)
		}
		return out
	}
	return Errors{err}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// expandTree replaces ${NAME} and ${NAME:-default} in every string value, recording an
// error with its path for each reference to an unset variable. Only the braced form is
// expanded, so a literal '$' in a password needs no escaping.
func expandTree(node any, path string, lookup func(string) (string, bool), errs *Errors) any {
	switch n := node.(type) {
	case map[string]any:
		out := make(map[string]any, len(n))
		for k, val := range n {
			out[k] = expandTree(val, joinPath(path, k), lookup, errs)
		}
		return out
	case []any:
		out := make([]any, len(n))
		for i, val := range n {
			out[i] = expandTree(val, fmt.Sprintf("%s[%d]", path, i), lookup, errs)
		}
		return out
	case string:
		return envRef.ReplaceAllStringFunc(n, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			if val, ok := lookup(m[1]); ok && val != "" {
				return val
			}
			if m[2] != "" {
				return m[3]
			}
			*errs = append(*errs, &FieldError{Path: canonicalPath(path), Msg: fmt.Sprintf("environment variable %s is not set", m[1])})
			return ""
		})
	default:
		return node
	}
}

// envKey is one scalar configuration key that an EMFA_* variable can override.
type envKey struct {
	env  string   // EMFA_STORAGE_ENCRYPTIONKEY
	path []string // viper's lower-cased keys: storage, encryptionkey
}

// envKeys walks the Config struct: server.listen is EMFA_SERVER_LISTEN,
// storage.encryptionKey is EMFA_STORAGE_ENCRYPTIONKEY. Lists (providers) are not
// overridable from the environment; use ${NAME} inside them.
func envKeys() []envKey {
	var out []envKey
	var walk func(t reflect.Type, env string, path []string)
	walk = func(t reflect.Type, env string, path []string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			tag := t.Field(i).Tag.Get("mapstructure")
			if tag == "" || tag == "-" {
				continue
			}
			fEnv := env + "_" + strings.ToUpper(tag)
			fPath := append(slices.Clone(path), strings.ToLower(tag))
			ft := t.Field(i).Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
				walk(ft, fEnv, fPath)
			case ft.Kind() == reflect.Slice || ft.Kind() == reflect.Map:
			default:
				out = append(out, envKey{env: fEnv, path: fPath})
			}
		}
	}
	walk(reflect.TypeFor[Config](), "EMFA", nil)
	sort.Slice(out, func(i, j int) bool { return out[i].env < out[j].env })
	return out
}

// applyEnvOverrides sets every key whose EMFA_* variable is set.
func applyEnvOverrides(settings map[string]any, lookup func(string) (string, bool)) {
	for _, k := range envKeys() {
		val, ok := lookup(k.env)
		if !ok {
			continue
		}
		node := settings
		for _, key := range k.path[:len(k.path)-1] {
			sub, _ := node[key].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				node[key] = sub
			}
			node = sub
		}
		node[k.path[len(k.path)-1]] = val
	}
}

// EnvOverrides lists the EMFA_* variables that override configuration keys, sorted.
func EnvOverrides() []string {
	var out []string
	for _, k := range envKeys() {
		out = append(out, k.env)
	}
	return out
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// canonicalPath restores the documented spelling of a path viper lower-cased
// ("storage.encryptionkey" → "storage.encryptionKey") from the struct tags.
func canonicalPath(path string) string {
	t := reflect.TypeFor[Config]()
	parts := strings.Split(path, ".")
	for i, part := range parts {
		name, index, _ := strings.Cut(part, "[")
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			break
		}
		found := false
		for j := range t.NumField() {
			tag := t.Field(j).Tag.Get("mapstructure")
			if strings.EqualFold(tag, name) {
				parts[i], t, found = tag, t.Field(j).Type, true
				if index != "" {
					parts[i] += "[" + index
				}
				break
			}
		}
		if !found {
			break
		}
	}
	return strings.Join(parts, ".")
}

// restoreRemote sets each provider's Remote section from the document itself: viper
// lower-cases every map key, and a webhook's resource names and JWT claims are
// case-sensitive. ${NAME} references inside are expanded like everywhere else.
func restoreRemote(cfg *Config, data []byte, format string, lookup func(string) (string, bool), errs *Errors) error {
	var doc struct {
		Providers []struct {
			Remote map[string]any `yaml:"remote" json:"remote"`
		} `yaml:"providers" json:"providers"`
	}
	var err error
	if format == "json" {
		err = json.Unmarshal(data, &doc)
	} else {
		err = yaml.Unmarshal(data, &doc)
	}
	if err != nil {
		return fmt.Errorf("parse %s: %w", format, err)
	}
	for i := range cfg.Providers {
		if i >= len(doc.Providers) || doc.Providers[i].Remote == nil {
			continue
		}
		tree := expandTree(doc.Providers[i].Remote, fmt.Sprintf("providers[%d].remote", i), lookup, errs)
		cfg.Providers[i].Remote = tree.(map[string]any)
	}
	return nil
}
