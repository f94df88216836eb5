package deploy

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// compose.yaml gave PostgreSQL the password "emfa" when EMFA_POSTGRES_PASSWORD was unset,
// and its opening comment, the one an operator follows, named only the two other secrets:
// a first `docker compose up` made a database of factor secrets with a password anyone
// can read here. Every secret compose passes on is now required (${NAME:?…}), with no
// default, and the opening comment says how to set each.
func TestComposeRequiresEverySecret(t *testing.T) {
	text := string(must(os.ReadFile("../compose.yaml")))
	d := docs(t, "../compose.yaml")[0]
	pg := at(t, d, "services", "postgres", "environment", "POSTGRES_PASSWORD").(string)
	dsn := at(t, d, "services", "emfa", "environment", "EMFA_POSTGRES_DSN").(string)
	required := regexp.MustCompile(`\$\{EMFA_POSTGRES_PASSWORD:\?[^}]+\}`)
	if !required.MatchString(pg) {
		t.Errorf("POSTGRES_PASSWORD is %q: not required", pg)
	}
	if !required.MatchString(dsn) {
		t.Errorf("EMFA_POSTGRES_DSN is %q: its password is not required", dsn)
	}
	if regexp.MustCompile(`(?i)(PASSWORD|KEY|SECRET|TOKEN)[A-Z_]*:-`).MatchString(text) {
		t.Errorf("compose.yaml gives a secret a default:\n%s", text)
	}
	head, _, _ := strings.Cut(text, "services:")
	for _, name := range []string{"EMFA_POSTGRES_PASSWORD", "EMFA_VERIFY_PASSWORD", "EMFA_ENCRYPTION_KEY"} {
		if !strings.Contains(head, "export "+name+"=") {
			t.Errorf("compose.yaml's opening comment does not say how to set %s:\n%s", name, head)
		}
	}
}

// After `docker compose up`, the README said nothing of how to run the operator's
// commands (users add, tokens create) against it: the image is distroless, with no shell,
// and a command run on the host has neither the container's configuration nor its
// PostgreSQL. The README now shows them run in the container, with the --config its
// serve reads (compose and Kubernetes alike).
func TestReadmeRunsCommandsInTheContainer(t *testing.T) {
	readme := string(must(os.ReadFile("../README.md")))
	cmd := at(t, docs(t, "../compose.yaml")[0], "services", "emfa", "command").([]any)
	cfg := ""
	for i, a := range cmd {
		if a == "--config" && i+1 < len(cmd) {
			cfg = cmd[i+1].(string)
		}
	}
	if cfg == "" {
		t.Fatalf("compose's command has no --config: %v", cmd)
	}
	for _, want := range []string{
		"docker compose exec emfa emfa users add alice --config " + cfg,
		"kubectl exec deploy/emfa -- emfa users add alice --config " + cfg,
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("README.md does not show %q", want)
		}
	}
}
