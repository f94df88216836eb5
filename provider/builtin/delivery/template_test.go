package delivery

import (
	"strings"
	"testing"
)

func TestTemplate(t *testing.T) {
	t.Parallel()
	vars := map[string]string{VarCode: "123456", VarUser: "alice", VarMinutes: "5"}
	tests := []struct {
		name, src, want string
	}{
		{"code", "Your code is {{code}}", "Your code is 123456"},
		{"all three", "{{user}}: {{code}} (valid {{minutes}} min)", "alice: 123456 (valid 5 min)"},
		{"spaces inside braces", "Code: {{ code }}.", "Code: 123456."},
		{"repeated", "{{code}} {{code}}", "123456 123456"},
		{"no placeholder", "Hello", "Hello"},
		{"empty", "", ""},
		{"single braces kept", "{code} } { {{code}}", "{code} } { 123456"},
		{"closing braces alone", "}} {{code}}}", "}} 123456}"},
		{"unicode", "Ihr Code lautet {{code}} – gültig {{minutes}} Minuten", "Ihr Code lautet 123456 – gültig 5 Minuten"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tmpl, err := ParseTemplate(tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if got := tmpl.Render(vars); got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTemplateMissingVariable(t *testing.T) {
	t.Parallel()
	tmpl, err := ParseTemplate("code {{code}} for {{user}}")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tmpl.Render(map[string]string{VarCode: "1"}), "code 1 for "; got != want {
		t.Errorf("Render = %q, want %q", got, want)
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		src, want string
	}{
		{"Your code is {{otp}}", "unknown placeholder {{otp}} at offset 13"},
		{"{{Code}}", "unknown placeholder {{Code}}"}, // names are case-sensitive
		{"{{}}", "unknown placeholder {{}}"},
		{"{{code}} {{user", "unclosed {{ at offset 9"},
		{"{{ code ", "unclosed {{ at offset 0"},
	}
	for _, tt := range tests {
		_, err := ParseTemplate(tt.src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseTemplate(%q) = %v, want an error with %q", tt.src, err, tt.want)
		}
	}
}
