package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/emfa/emfa/config"
	"github.com/emfa/emfa/provider/remote"
	"github.com/emfa/emfa/transform"
)

// cmdTransform is `emfa transform eval`: what a transform produces for an input, the
// equivalent of Verify's transform playground, without calling the vendor.
func cmdTransform(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "eval" {
		return usageError{"transform needs the subcommand eval"}
	}
	fs := flag.NewFlagSet("transform eval", flag.ContinueOnError)
	configPath := fs.String("config", "", "configuration file")
	prefix := fs.String("provider", "", "the provider's credentialPrefix")
	resource := fs.String("resource", "", "resource name (enrollments, initiate, hotp_1...)")
	direction := fs.String("direction", "", "outgoing or incoming")
	input := fs.String("input", "", "JSON file of variables (body required; - for stdin)")
	if _, err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *prefix == "" || *resource == "" || *input == "" {
		return usageError{"transform eval needs --provider, --resource, --direction and --input"}
	}
	dir := transform.Direction(*direction)
	if dir != transform.Outgoing && dir != transform.Incoming {
		return usageError{"--direction must be outgoing or incoming"}
	}
	cfg, err := loadConfig(*configPath, stderr, loadAll)
	if err != nil {
		return err
	}
	idx := -1
	for i, p := range cfg.Providers {
		if p.CredentialPrefix == *prefix {
			idx = i
		}
	}
	if idx < 0 || cfg.Providers[idx].Engine != config.EngineRemote {
		return fmt.Errorf("no remote provider %q in %s", *prefix, cfg.Source)
	}
	w, _, err := remoteWebhook(cfg, idx)
	if err != nil {
		return err
	}
	var data []byte
	if *input == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(*input)
	}
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	decoded, err := transform.DecodeJSON(data)
	vars, ok := decoded.(map[string]any)
	if err != nil || !ok {
		return fmt.Errorf("input must be a JSON object of variables, e.g. {\"body\": {...}}")
	}
	out, err := remote.EvalTransform(ctx, w, *resource, dir, vars, time.Now())
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
