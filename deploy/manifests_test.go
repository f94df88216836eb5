package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emfa/emfa/config"
)

// readByCode is whether emfa's command reads the environment variable name itself
// (os.Getenv or LookupEnv of it, outside tests).
func readByCode(t *testing.T, name string) bool {
	t.Helper()
	files, _ := filepath.Glob("../cmd/emfa/*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		if strings.Contains(string(must(os.ReadFile(f))), `"`+name+`"`) {
			return true
		}
	}
	return false
}

// checkEnvRead: every variable a manifest sets reaches something that reads it — the Go
// runtime, emfa's command, a ${NAME} of the configuration it runs, or an EMFA_ override
// of a key (shown by giving it a value the key refuses: the error names the variable).
// A misspelt one would be set and ignored without a word.
func checkEnvRead(t *testing.T, where string, vars []string, cfgText string) {
	t.Helper()
	for _, name := range vars {
		switch {
		case name == "GOMEMLIMIT" || name == "GOGC":
			continue
		case strings.Contains(cfgText, "${"+name+"}"), readByCode(t, name):
			continue
		case strings.HasPrefix(name, "EMFA_"):
			p := filepath.Join(t.TempDir(), "emfa.yaml")
			if err := os.WriteFile(p, []byte(cfgText), 0o600); err != nil {
				t.Fatal(err)
			}
			lookup := func(k string) (string, bool) {
				if k == name {
					return "not-a-value-\x01", true
				}
				return "", false
			}
			_, err := config.Load(p, config.Options{LookupEnv: lookup, Unset: config.UnsetIsWarning})
			if err == nil || !strings.Contains(err.Error(), name+":") {
				t.Errorf("%s sets %s, which emfa does not read (no override of that name: %v)", where, name, err)
			}
		default:
			t.Errorf("%s sets %s, which nothing in emfa reads", where, name)
		}
	}
}

// serveFlags are the flags emfa serve defines (serve.go).
func serveFlags(t *testing.T) map[string]bool {
	src := string(must(os.ReadFile("../cmd/emfa/serve.go")))
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`c\.Flags\(\)\.\w+Var\(&[\w.]+, "([a-z-]+)"`).FindAllStringSubmatch(src, -1) {
		out[m[1]] = true
	}
	// --config is declared by configVar (cmd/emfa/admin.go), which refuses an empty path.
	if regexp.MustCompile(`configVar\(c\.Flags\(\), &`).MatchString(src) {
		out["config"] = true
	}
	if len(out) == 0 {
		t.Fatal("no flags found in serve.go")
	}
	return out
}

// checkServeArgs: the command is serve with flags it has, and returns the --config path.
func checkServeArgs(t *testing.T, where string, args []any) string {
	t.Helper()
	flags := serveFlags(t)
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("%s runs %v, not serve", where, args)
	}
	cfgPath := ""
	for i := 1; i < len(args); i++ {
		a := fmt.Sprint(args[i])
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") || !flags[name] {
			t.Errorf("%s: serve has no flag %s", where, a)
			continue
		}
		if name == "config" {
			if !hasValue && i+1 < len(args) {
				i++
				value = fmt.Sprint(args[i])
			}
			cfgPath = value
		}
	}
	return cfgPath
}

// TestManifestsNameWhatEmfaReads: the Deployment's and compose's command, flags,
// configuration path, data directory, probes, scrape annotations and environment are
// things the binary has and reads.
func TestManifestsNameWhatEmfaReads(t *testing.T) {
	kinds := map[string]map[string]any{}
	files, _ := filepath.Glob("kubernetes/*.yaml")
	for _, f := range files {
		for _, d := range docs(t, f) {
			kinds[fmt.Sprint(d["kind"])] = d
		}
	}
	dep := kinds["Deployment"]
	pod := at(t, dep, "spec", "template", "spec")
	c := at(t, pod, "containers", 0)
	cfgPath := checkServeArgs(t, "the Deployment", at(t, c, "args").([]any))
	if cfgPath == "" {
		t.Fatal("the Deployment serves the embedded default: no --config")
	}
	// Mounts: which volume is where, and which ConfigMap each volume is.
	volumes := map[string]any{}
	for _, v := range at(t, pod, "volumes").([]any) {
		volumes[fmt.Sprint(at(t, v, "name"))] = v
	}
	mounts := map[string]map[string]any{} // mountPath → the mount
	for _, m := range at(t, c, "volumeMounts").([]any) {
		mounts[fmt.Sprint(at(t, m, "mountPath"))] = m.(map[string]any)
	}
	cm := mounts[path.Dir(cfgPath)]
	if cm == nil {
		t.Fatalf("--config %s: nothing is mounted at %s", cfgPath, path.Dir(cfgPath))
	}
	vol := volumes[fmt.Sprint(cm["name"])]
	if at(t, vol, "configMap", "name") != at(t, kinds["ConfigMap"], "metadata", "name") ||
		at(t, kinds["ConfigMap"], "data", path.Base(cfgPath)) == nil {
		t.Errorf("--config %s is not a key of the ConfigMap mounted there", cfgPath)
	}
	cfgText := at(t, kinds["ConfigMap"], "data", path.Base(cfgPath)).(string)
	var env []string
	envs := map[string]string{}
	for _, e := range at(t, c, "env").([]any) {
		env = append(env, fmt.Sprint(at(t, e, "name")))
		envs[fmt.Sprint(at(t, e, "name"))] = fmt.Sprint(at(t, e, "value"))
	}
	checkEnvRead(t, "the Deployment", env, cfgText)
	// The data directory is a writable volume (the root filesystem is read-only).
	if dir := envs["EMFA_DATA_DIR"]; dir != "" {
		if m := mounts[dir]; m == nil || m["readOnly"] == true {
			t.Errorf("EMFA_DATA_DIR %s is not a writable volume: %v", dir, m)
		}
	}
	// Probes and the scrape annotations name ports the container has, on the listeners
	// that serve those paths.
	ports := map[string]string{}
	for _, p := range at(t, c, "ports").([]any) {
		ports[fmt.Sprint(at(t, p, "name"))] = fmt.Sprint(at(t, p, "containerPort"))
	}
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		if port := fmt.Sprint(at(t, c, probe, "httpGet", "port")); ports[port] == "" {
			t.Errorf("%s on port %s, which the container does not name", probe, port)
		}
	}
	ann := at(t, dep, "spec", "template", "metadata", "annotations")
	if at(t, ann, "prometheus.io/port") != ports["admin"] || at(t, ann, "prometheus.io/path") != "/metrics" {
		t.Errorf("scrape annotations %v, want port %s (admin) and /metrics", ann, ports["admin"])
	}

	// compose: the same, and the Dockerfile's environment against the image's default.
	d := docs(t, "../compose.yaml")[0]
	emfa := at(t, d, "services", "emfa")
	cfgPath = checkServeArgs(t, "compose", at(t, emfa, "command").([]any))
	var composeCfg string
	for _, v := range at(t, emfa, "volumes").([]any) {
		src, dst, _ := strings.Cut(strings.TrimSuffix(fmt.Sprint(v), ":ro"), ":")
		if dst == cfgPath {
			composeCfg = string(must(os.ReadFile(filepath.Join("..", src))))
		}
	}
	if composeCfg == "" {
		t.Fatalf("compose: --config %s is not a file compose mounts", cfgPath)
	}
	var composeEnv []string
	for k := range at(t, emfa, "environment").(map[string]any) {
		composeEnv = append(composeEnv, k)
	}
	checkEnvRead(t, "compose", composeEnv, composeCfg)
	var dockerEnv []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:ENV\s+)?([A-Z_]+)=\S+(?: \\)?$`).FindAllStringSubmatch(envBlock(string(must(os.ReadFile("../Dockerfile")))), -1) {
		dockerEnv = append(dockerEnv, m[1])
	}
	if len(dockerEnv) == 0 {
		t.Fatal("no ENV in the Dockerfile")
	}
	checkEnvRead(t, "the Dockerfile", dockerEnv, string(must(os.ReadFile("../cmd/emfa/default.yaml"))))
}

// envBlock is the Dockerfile's ENV instruction with its continued lines.
func envBlock(df string) string {
	var out []string
	in := false
	for line := range strings.Lines(df) {
		if strings.HasPrefix(line, "ENV ") {
			in = true
		}
		if in {
			out = append(out, line)
			if !strings.HasSuffix(strings.TrimRight(line, "\n"), "\\") {
				in = false
			}
		}
	}
	return strings.Join(out, "")
}
