package transcript

import (
	"fmt"
	"net/url"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/provider/builtin"
	"github.com/emfa/emfa/store"
)

// FactorSetup is the setup of a factor as its type records it (builtin.Recorded: secrets
// redacted), in a transcript's terms: what a recording writes for a factor it saw.
func FactorSetup(user string, f *store.Factor) (*FactorSpec, error) {
	values, ok := builtin.Recorded(f)
	if !ok {
		return nil, fmt.Errorf("no setup for %s factors", f.Type)
	}
	fields, _ := builtin.FieldsOf(f.Type)
	all := map[string]any{"type": f.Type, "user": user, "id": f.ID, "name": f.Label}
	for _, field := range fields {
		vs := values[field.Name]
		if len(vs) == 0 || vs[0] == "" {
			continue
		}
		switch {
		case field.Kind == builtin.FieldList:
			all[field.Name] = vs
		case field.Kind == builtin.FieldInt:
			if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil {
				all[field.Name] = n
			}
		default:
			all[field.Name] = vs[0]
		}
	}
	data, err := yaml.Marshal(all)
	if err != nil {
		return nil, err
	}
	var spec FactorSpec
	if err := yaml.Unmarshal(data, &spec); err != nil {
		return nil, err
	}
	spec.Created = f.CreatedAt // the order the recording writes set-up factors in
	return &spec, nil
}

// Values are the factor as enrollment values, what replay enrolls: its fields by their
// names (phone, secret, counter…), a recording's redacted secrets replaced by the type's
// stand-ins or left out (a seed is then generated afresh).
func (f *FactorSpec) Values() (url.Values, error) {
	fields, ok := builtin.FieldsOf(f.Type)
	if !ok {
		return nil, fmt.Errorf("setup of %s factors is not supported", f.Type)
	}
	data, err := yaml.Marshal(f)
	if err != nil {
		return nil, err
	}
	var all map[string]any
	if err := yaml.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	all["name"] = f.Name
	values := url.Values{}
	for _, field := range fields {
		v, ok := all[field.Name]
		if !ok || v == "" {
			continue
		}
		list, isList := v.([]any)
		if !isList {
			list = []any{v}
		}
		for _, e := range list {
			s := fmt.Sprint(e)
			if s == builtin.Redacted {
				if field.StandIn == "" {
					continue
				}
				s = field.StandIn
			}
			values.Add(field.Name, s)
		}
	}
	return values, nil
}
