package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/internal/suggest"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/transform"
)

// transformCmd is `emfa transform eval`: what a transform produces for an input, the
// equivalent of Verify's transform playground, without calling the vendor.
func (d *deps) transformCmd() *cobra.Command {
	var o transformEval
	eval := &cobra.Command{
		Use:   "eval --provider P --resource R --direction outgoing|incoming --input FILE",
		Short: "what a remote provider's transform produces for an input",
		Example: `  emfa transform eval --config emfa.yaml --provider duo --resource initiate \
    --direction outgoing --input vars.json`,
		Args: func(c *cobra.Command, args []string) error {
			if err := noArgs(c, args); err != nil {
				return err
			}
			if o.prefix == "" || o.resource == "" || o.input == "" {
				return usageError{"transform eval needs --provider, --resource, --direction and --input"}
			}
			if dir := transform.Direction(o.direction); dir != transform.Outgoing && dir != transform.Incoming {
				return usageError{"--direction must be outgoing or incoming"}
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error { return d.transformEval(c.Context(), o) },
	}
	f := eval.Flags()
	configVar(f, &o.config, "configuration `FILE`")
	f.StringVar(&o.prefix, "provider", "", "the provider's credentialPrefix")
	f.StringVar(&o.resource, "resource", "", "resource name (enrollments, initiate, hotp_1...)")
	f.StringVar(&o.direction, "direction", "", "outgoing or incoming")
	f.StringVar(&o.input, "input", "", "JSON `FILE` of variables (body required; - for stdin)")
	return group("transform", "try a remote provider's transforms", "  emfa transform eval --config emfa.yaml --provider duo --resource initiate --direction outgoing --input vars.json", eval)
}

type transformEval struct{ config, prefix, resource, direction, input string }

func (d *deps) transformEval(ctx context.Context, o transformEval) error {
	// It needs only the secrets of the provider it runs (the transforms read its
	// authentication values), not Verify's password nor the store's key.
	opts := storeOptions{config: o.config}
	cfg, err := loadConfig(opts, forReading, d.stderr)
	if err != nil {
		return err
	}
	// A credentialPrefix in any case, as the contract's path and Verify's policies name it.
	idx := -1
	var remotes []string
	for i, p := range cfg.Providers {
		if p.Engine != config.EngineRemote {
			continue
		}
		remotes = append(remotes, p.CredentialPrefix)
		if strings.EqualFold(p.CredentialPrefix, o.prefix) {
			idx = i
		}
	}
	if idx < 0 {
		if meant := suggest.Nearest(o.prefix, remotes); meant != "" {
			return fmt.Errorf("no remote provider %q in %s (did you mean %q?)", o.prefix, cfg.Source, meant)
		}
		return fmt.Errorf("no remote provider %q in %s (its remote providers: %s)", o.prefix, cfg.Source, cmp.Or(strings.Join(remotes, ", "), "none"))
	}
	if at := fmt.Sprintf("providers[%d]", idx); cfg.Unset(at) {
		// Load again with its secrets required, for the errors naming each with its line.
		opts.need = []string{at}
		if _, err := loadConfig(opts, forReading, d.stderr); err != nil {
			return err
		}
	}
	w, _, err := remoteWebhook(cfg, idx)
	if err != nil {
		return err
	}
	var data []byte
	if o.input == "-" {
		data, err = io.ReadAll(d.stdin)
	} else {
		data, err = os.ReadFile(o.input)
	}
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	decoded, err := transform.DecodeJSON(data)
	vars, ok := decoded.(map[string]any)
	if err != nil || !ok {
		return fmt.Errorf("input %s must be a JSON object of variables, e.g. {\"body\": {...}}", o.input)
	}
	out, err := remote.EvalTransform(ctx, w, o.resource, transform.Direction(o.direction), vars, d.now())
	if err != nil {
		return err
	}
	return printJSON(d.stdout, out)
}
