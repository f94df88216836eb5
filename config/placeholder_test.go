package config

import (
	"strings"
	"testing"
)

// TestPlaceholderNotExpandedRefused: a ${…} inside a default or a file's path,
// or a "${" that starts no reference (a brace or a name missing), is refused at its key,
// naming neither the value nor the variable's content: the value was taken as text, so
// ${PW:-${PW2}} with PW set gave PW's value and a "}", and "${EMFA_VERIFY_PASSWORD" the
// text itself, a password Verify never sends, found only as every call's 401.
func TestPlaceholderNotExpandedRefused(t *testing.T) {
	const secret = "env-password-0123456789"
	vars := map[string]string{"PW": secret, "PW2": secret, "DIR": "/run/secrets"}
	for _, tc := range []struct{ name, value, want string }{
		{"nested default, set", "${PW:-${PW2}}", "a default or a file's path holds another ${"},
		{"nested default, unset", "${NOPE:-${PW2}}", "a default or a file's path holds another ${"},
		{"file path", "${file:${DIR}/pw}", "a default or a file's path holds another ${"},
		{"brace missing", "${EMFA_VERIFY_PASSWORD", `"${" that starts no reference`},
		{"name missing", "pre-${}-post-0123456789", `"${" that starts no reference`},
		{"bash default", "${PW-fallback-0123456789}", `"${" that starts no reference`},
		{"after a reference", "${PW}${PW", `"${" that starts no reference`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := strings.Replace(minimalYAML, `"0123456789abcdef0"`, `"`+tc.value+`"`, 1)
			_, err := Parse([]byte(y), "yaml", env(vars))
			if err == nil {
				t.Fatalf("%s accepted", tc.value)
			}
			msg := err.Error()
			if !strings.Contains(msg, "server.auth.basic.password: ") || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want server.auth.basic.password: …%s…", msg, tc.want)
			}
			if strings.Contains(msg, secret) || strings.Contains(msg, "/run/secrets") {
				t.Errorf("error shows a variable's content: %q", msg)
			}
			if strings.Count(msg, "\n") > 0 {
				t.Errorf("more than the one problem: %q", msg)
			}
		})
	}
	// What still expands as before: references side by side, a default with braces after
	// it, a literal $ elsewhere.
	for _, value := range []string{"${PW}", "a$b${PW}", "${NOPE:-fallback-0123456}}", "$PW{x}-0123456789abc"} {
		y := strings.Replace(minimalYAML, `"0123456789abcdef0"`, `"`+value+`"`, 1)
		if _, err := Parse([]byte(y), "yaml", env(vars)); err != nil {
			t.Errorf("%s: %v", value, err)
		}
	}
}

// TestLiteralPlaceholderThroughAVariable: a password that holds "${" as text,
// given as an EMFA_* override, is refused saying how to give it; given so, through a
// variable the override names, it is taken as it is.
func TestLiteralPlaceholderThroughAVariable(t *testing.T) {
	const literal = "abc${def-0123456789"
	_, err := Parse([]byte(minimalYAML), "yaml", env(map[string]string{"EMFA_SERVER_AUTH_BASIC_PASSWORD": literal}))
	if err == nil || !strings.Contains(err.Error(), "EMFA_SERVER_AUTH_BASIC_PASSWORD: server.auth.basic.password: ") ||
		!strings.Contains(err.Error(), "${NAME} or ${file:PATH}") || strings.Contains(err.Error(), literal) {
		t.Errorf("got %v", err)
	}
	cfg, err := Parse([]byte(minimalYAML), "yaml", env(map[string]string{"EMFA_SERVER_AUTH_BASIC_PASSWORD": "${VERIFY_PW}", "VERIFY_PW": literal}))
	if err != nil || cfg.Server.Auth.Basic.Password.Reveal() != literal {
		t.Errorf("through ${VERIFY_PW}: %v", err)
	}
}
