// Package deploy holds emfa's container and Kubernetes files; this test checks that
// they parse and carry what the README promises, without a cluster or a Docker daemon.
package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/emfa/emfa/config"
)

// docs reads every YAML document of a file.
func docs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []map[string]any
	for {
		var d map[string]any
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			out = append(out, d)
		}
	}
}

// at walks a path of keys and list indexes through a decoded document.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a map at %q", path, k)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = l[k]
		}
	}
	return v
}

func TestKubernetesManifests(t *testing.T) {
	kinds := map[string]map[string]any{}
	services := map[string]map[string]any{} // by name: the contract's and the admin listener's
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		for _, d := range docs(t, f) {
			kind, _ := d["kind"].(string)
			if kind == "" || d["apiVersion"] == nil {
				t.Errorf("%s: a document without kind or apiVersion", f)
			}
			kinds[kind] = d
			if kind == "Service" {
				services[at(t, d, "metadata", "name").(string)] = d
			}
		}
	}
	for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ConfigMap", "Secret", "Kustomization"} {
		if kinds[k] == nil {
			t.Errorf("no %s in deploy/kubernetes", k)
		}
	}
	dep := kinds["Deployment"]
	if r, _ := at(t, dep, "spec", "replicas").(int); r < 2 {
		t.Errorf("replicas %d, want 2 or more", r)
	}
	c := at(t, dep, "spec", "template", "spec", "containers", 0)
	if p := at(t, c, "livenessProbe", "httpGet", "path"); p != "/healthz" {
		t.Errorf("liveness probe on %v", p)
	}
	if p := at(t, c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe on %v", p)
	}
	if at(t, c, "resources", "requests", "cpu") == nil || at(t, c, "resources", "requests", "memory") == nil {
		t.Error("no resource requests")
	}
	if at(t, c, "securityContext", "readOnlyRootFilesystem") != true {
		t.Error("the root filesystem is not read-only")
	}
	if at(t, kinds["PodDisruptionBudget"], "spec", "minAvailable") == nil {
		t.Error("the PodDisruptionBudget has no minAvailable")
	}
	sel := at(t, dep, "spec", "selector", "matchLabels", "app.kubernetes.io/name")
	for _, k := range []string{"Service", "PodDisruptionBudget"} {
		path := []any{"spec", "selector"}
		if k == "PodDisruptionBudget" {
			path = append(path, "matchLabels")
		}
		if got := at(t, kinds[k], append(path, "app.kubernetes.io/name")...); got != sel {
			t.Errorf("%s selects %v, the Deployment's pods are %v", k, got, sel)
		}
	}
	// The configuration the ConfigMap carries loads and validates (PostgreSQL, 2+ replicas),
	// its secrets read from the files of the Secret's volume.
	cfg := at(t, kinds["ConfigMap"], "data", "emfa.yaml").(string)
	loaded := loadConfig(t, secretFiles(t, cfg, c, at(t, dep, "spec", "template", "spec", "volumes").([]any), kinds["Secret"]))
	if loaded.Storage.Driver != "postgres" {
		t.Errorf("storage %s: replicas need a shared store", loaded.Storage.Driver)
	}
	if loaded.Server.Auth.Basic.Password.Reveal() != testSecrets["verify-password"] || loaded.Storage.EncryptionKey.Reveal() != testSecrets["encryption-key"] ||
		loaded.Storage.DSN.Reveal() != testSecrets["postgres-dsn"] {
		t.Error("the Verify password, the encryption key and the DSN are not the Secret's files")
	}
	checkKubernetesPorts(t, loaded, c, services, kinds["NetworkPolicy"])
}

// checkKubernetesPorts: the ingress publishes the contract's port only; the admin API and
// /metrics are on admin.listen, another port, which only a namespace labelled for it
// (monitoring) may reach.
func checkKubernetesPorts(t *testing.T, cfg *config.Config, container any, services map[string]map[string]any, policy map[string]any) {
	t.Helper()
	_, contract, _ := net.SplitHostPort(cfg.Server.Listen)
	if cfg.Admin.Listen == "" {
		t.Fatal("the ConfigMap sets no admin.listen: the admin API and /metrics would be on the port the ingress publishes to Verify")
	}
	_, admin, _ := net.SplitHostPort(cfg.Admin.Listen)
	if admin == contract {
		t.Fatalf("admin.listen's port is server.listen's (%s)", admin)
	}
	if !cfg.Metrics.IsEnabled() {
		t.Error("metrics disabled: Prometheus has nothing to scrape")
	}
	ports := map[string]string{} // container port name → number
	for _, p := range at(t, container, "ports").([]any) {
		ports[at(t, p, "name").(string)] = strconv.Itoa(at(t, p, "containerPort").(int))
	}
	if ports["http"] != contract || ports["admin"] != admin {
		t.Errorf("container ports %v, want http %s (server.listen) and admin %s (admin.listen)", ports, contract, admin)
	}
	// The Service the ingress targets carries the contract's port only; the admin port has
	// a Service of its own.
	targets := map[string][]string{}
	for name, svc := range services {
		for _, p := range at(t, svc, "spec", "ports").([]any) {
			targets[name] = append(targets[name], fmt.Sprint(at(t, p, "targetPort")))
		}
	}
	if !slices.Equal(targets["emfa"], []string{"http"}) || !slices.Equal(targets["emfa-admin"], []string{"admin"}) {
		t.Errorf("services' target ports %v, want emfa: [http], emfa-admin: [admin]", targets)
	}
	// Each ingress rule admits one port, from one namespace selector: the ingress
	// controller's to the contract's port, the monitoring namespace's to the admin port.
	admitted := map[string]string{} // namespace selector → port
	for _, r := range at(t, policy, "spec", "ingress").([]any) {
		from, _ := at(t, r, "from").([]any)
		rulePorts, _ := at(t, r, "ports").([]any)
		if len(from) != 1 || len(rulePorts) != 1 {
			t.Errorf("ingress rule %v: want one source and one port", r)
			continue
		}
		sel := fmt.Sprint(at(t, from[0], "namespaceSelector", "matchLabels"))
		admitted[sel] = fmt.Sprint(at(t, rulePorts[0], "port"))
	}
	want := map[string]string{
		"map[kubernetes.io/metadata.name:ingress-nginx]": contract,
		"map[emfa/admin-access:true]":                    admin,
	}
	if fmt.Sprint(admitted) != fmt.Sprint(want) {
		t.Errorf("the NetworkPolicy admits %v, want %v", admitted, want)
	}
}

// testSecrets are values for the Secret's keys that the configuration accepts.
var testSecrets = map[string]string{
	"verify-password": "0123456789abcdef0123",
	"encryption-key":  "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	"postgres-dsn":    "postgres://emfa:pw@postgres:5432/emfa",
}

var (
	fileRef = regexp.MustCompile(`\$\{file:([^}]+)\}`)
	anyRef  = regexp.MustCompile(`\$\{([^}]*)\}`)
)

// secretFiles checks that the secrets reach emfa as files of the Secret, never through
// the environment, so that a rotated Secret applies on SIGHUP: no variable of the
// container comes from a Secret, the configuration names no ${VARIABLE}, and every
// ${file:PATH} is a key of the Secret in a directory where the whole Secret is mounted
// (not a subPath, which the kubelet never updates), readable by no other user. It gives
// the configuration with each PATH a file of testSecrets' value.
func secretFiles(t *testing.T, cfg string, container any, volumes []any, secret map[string]any) string {
	t.Helper()
	for _, e := range at(t, container, "env").([]any) {
		if from, ok := e.(map[string]any)["valueFrom"]; ok && at(t, from, "secretKeyRef") != nil {
			t.Errorf("env %v comes from a Secret: mount it as a file and use ${file:PATH}", at(t, e, "name"))
		}
		if name := fmt.Sprint(at(t, e, "name")); regexp.MustCompile(`PASSWORD|KEY|DSN|TOKEN|SECRET`).MatchString(name) {
			t.Errorf("env %s looks like a secret", name)
		}
	}
	if from, ok := container.(map[string]any)["envFrom"]; ok {
		t.Errorf("envFrom %v: the environment carries no secret", from)
	}
	for _, m := range anyRef.FindAllStringSubmatch(cfg, -1) {
		if !strings.HasPrefix(m[1], "file:") {
			t.Errorf("the configuration names ${%s}: a secret in the environment, which no reload reads again", m[1])
		}
	}
	keys := map[string]bool{}
	for k := range at(t, secret, "stringData").(map[string]any) {
		keys[k] = true
	}
	// The directories where the whole Secret is mounted.
	secretVolumes := map[string]bool{}
	for _, v := range volumes {
		sv, ok := v.(map[string]any)["secret"]
		if !ok || at(t, sv, "secretName") != at(t, secret, "metadata", "name") {
			continue
		}
		secretVolumes[at(t, v, "name").(string)] = true
		if mode, _ := at(t, sv, "defaultMode").(int); mode == 0 || mode&0o007 != 0 {
			t.Errorf("the Secret's volume has mode %04o: want 0440 or 0400 (emfa warns of a secret others may read)", mode)
		}
		if items := at(t, sv, "items"); items != nil {
			t.Errorf("the Secret's volume lists items %v: mount every key", items)
		}
	}
	dirs := map[string]bool{}
	for _, m := range at(t, container, "volumeMounts").([]any) {
		if !secretVolumes[fmt.Sprint(at(t, m, "name"))] {
			continue
		}
		if sub := at(t, m, "subPath"); sub != nil {
			t.Errorf("the Secret is mounted with subPath %v: the kubelet never updates it, a rotation would not apply", sub)
			continue
		}
		dirs[at(t, m, "mountPath").(string)] = true
	}
	refs := fileRef.FindAllStringSubmatch(cfg, -1)
	if len(refs) < 3 {
		t.Errorf("%d ${file:} references, want the Verify password, the encryption key and the DSN", len(refs))
	}
	tmp := t.TempDir()
	used := map[string]bool{}
	for _, m := range refs {
		path := m[1]
		dir, key := filepath.Dir(path), filepath.Base(path)
		if !dirs[dir] {
			t.Errorf("${file:%s}: %s is not where the Secret is mounted (%v)", path, dir, dirs)
		}
		if !keys[key] {
			t.Errorf("${file:%s}: the Secret has no key %s", path, key)
		}
		value, ok := testSecrets[key]
		if !ok {
			t.Fatalf("${file:%s}: no test value for %s", path, key)
		}
		used[key] = true
		local := filepath.Join(tmp, key)
		if err := os.WriteFile(local, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg = strings.ReplaceAll(cfg, m[0], "${file:"+local+"}")
	}
	for k := range keys {
		if !used[k] {
			t.Errorf("the Secret's key %s is used nowhere", k)
		}
	}
	return cfg
}

func loadConfig(t *testing.T, text string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "emfa.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"EMFA_VERIFY_PASSWORD": "0123456789abcdef0123",
		"EMFA_ENCRYPTION_KEY":  "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"EMFA_POSTGRES_DSN":    "postgres://emfa:pw@postgres:5432/emfa",
	}
	cfg, err := config.Load(path, config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	// The shipped files start without a warning: what they leave open, they say why.
	for _, w := range cfg.Warnings {
		t.Errorf("warning: %s", w)
	}
	return cfg
}

func TestCompose(t *testing.T) {
	d := docs(t, "../compose.yaml")[0]
	for _, s := range []string{"emfa", "postgres"} {
		if at(t, d, "services", s) == nil {
			t.Errorf("no service %s", s)
		}
	}
	emfa := at(t, d, "services", "emfa")
	if at(t, emfa, "read_only") != true {
		t.Error("emfa's root filesystem is not read-only")
	}
	if !strings.Contains(at(t, emfa, "environment", "EMFA_POSTGRES_DSN").(string), "@postgres:5432/") {
		t.Error("emfa does not use the postgres service")
	}
	if at(t, emfa, "depends_on", "postgres", "condition") != "service_healthy" {
		t.Error("emfa does not wait for PostgreSQL")
	}
	cfg := loadConfig(t, string(must(os.ReadFile("compose/emfa.yaml"))))
	// As on Kubernetes: the contract's port published, the admin API and /metrics on
	// admin.listen, published on the host's loopback only.
	if cfg.Admin.Listen == "" {
		t.Fatal("compose/emfa.yaml sets no admin.listen")
	}
	_, contract, _ := net.SplitHostPort(cfg.Server.Listen)
	_, admin, _ := net.SplitHostPort(cfg.Admin.Listen)
	var published []string
	for _, p := range at(t, emfa, "ports").([]any) {
		published = append(published, p.(string))
	}
	if want := []string{contract + ":" + contract, "127.0.0.1:" + admin + ":" + admin}; !slices.Equal(published, want) {
		t.Errorf("compose publishes %v, want %v", published, want)
	}
}

func TestDockerfile(t *testing.T) {
	df := string(must(os.ReadFile("../Dockerfile")))
	for _, want := range []string{"FROM golang:1.26 AS build", "CGO_ENABLED=0", "distroless/static", "USER 65532", "/data",
		// The image has no .git to stamp the build from: the version and commit come in
		// as build arguments (README: Deployment).
		"ARG VERSION=", "ARG COMMIT=", "-X main.linkVersion=${VERSION}", "-X main.linkCommit=${COMMIT}"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile: no %q", want)
		}
	}
}

// TestCIBuildsStampedImage: the image CI builds is stamped with the version and commit
// as the README's container section builds it; without them `emfa version` and
// emfa_build_info of the image CI made say dev and unknown.
func TestCIBuildsStampedImage(t *testing.T) {
	run := string(must(os.ReadFile("../.ci/run")))
	var build string
	// One command, its continued lines joined.
	for line := range strings.Lines(strings.ReplaceAll(run, "\\\n", " ")) {
		if strings.Contains(line, "docker build") && !strings.Contains(line, "echo") {
			build += line
		}
	}
	if build == "" {
		t.Fatal(".ci/run builds no image")
	}
	for _, want := range []string{`--build-arg VERSION="$(git describe --tags --always --dirty)"`,
		`--build-arg COMMIT="$(git rev-parse HEAD)"`, `--build-arg BUILD_DATE=`} {
		if !strings.Contains(build, want) {
			t.Errorf(".ci/run's docker build has no %s:\n%s", want, build)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestAlertRules: every alerting rule is complete (a name of its own, an expression, a
// severity Alertmanager routes, a summary, a valid for), and the directory sync's are
// there: dead letters, a paused source, an event that waits too long, and an event a
// source delivered that emfa refused (lost: the source does not send it again), on the
// counter that counts it.
func TestAlertRules(t *testing.T) {
	d := docs(t, "prometheus/alerts.yml")[0]
	names := map[string]bool{}
	for _, g := range at(t, d, "groups").([]any) {
		for _, r := range at(t, g, "rules").([]any) {
			name, _ := at(t, r, "alert").(string)
			if name == "" || names[name] {
				t.Errorf("rule %v: no alert name, or one taken", r)
			}
			names[name] = true
			if expr, _ := at(t, r, "expr").(string); strings.TrimSpace(expr) == "" {
				t.Errorf("%s: no expr", name)
			}
			if sev := at(t, r, "labels", "severity"); sev != "page" && sev != "warn" {
				t.Errorf("%s: severity %v, want page or warn", name, sev)
			}
			if s, _ := at(t, r, "annotations", "summary").(string); s == "" {
				t.Errorf("%s: no summary", name)
			}
			if f, ok := r.(map[string]any)["for"]; ok {
				if _, err := time.ParseDuration(fmt.Sprint(f)); err != nil {
					t.Errorf("%s: for %v: %v", name, f, err)
				}
			}
		}
	}
	for _, want := range []string{"EmfaSyncDeadLetters", "EmfaSyncSourcePaused", "EmfaSyncPendingTooOld", "EmfaSyncEventsRefused"} {
		if !names[want] {
			t.Errorf("no alert %s", want)
		}
	}
	for _, g := range at(t, d, "groups").([]any) {
		for _, r := range at(t, g, "rules").([]any) {
			if at(t, r, "alert") == "EmfaSyncEventsRefused" {
				expr, _ := at(t, r, "expr").(string)
				if !strings.Contains(expr, `emfa_sync_events_received_total{outcome="refused"}`) {
					t.Errorf("EmfaSyncEventsRefused: %q does not read the refused events' counter", expr)
				}
				// the README shows it as an example: the same expression
				if !strings.Contains(string(must(os.ReadFile("../README.md"))), "expr: "+strings.TrimSpace(expr)+"\n") {
					t.Errorf("README.md does not show EmfaSyncEventsRefused's expr %q", expr)
				}
			}
		}
	}
}

// TestDashboard: the dashboard is JSON whose panels have ids of their own and do not
// overlap.
func TestDashboard(t *testing.T) {
	var d struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			GridPos struct{ X, Y, W, H int }
		} `json:"panels"`
	}
	if err := json.Unmarshal(must(os.ReadFile("grafana/emfa.json")), &d); err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for i, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		for _, q := range d.Panels[:i] {
			a, b := p.GridPos, q.GridPos
			if a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H {
				t.Errorf("panels %q and %q overlap", p.Title, q.Title)
			}
		}
	}
}
