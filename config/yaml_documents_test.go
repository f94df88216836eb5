package config

import (
	"strings"
	"testing"
)

// TestSecondDocumentRefused: a file of two YAML documents (a "---" between two
// halves, as two files pasted together) was read as its first one alone, the second
// dropped without a word: its providers missing, or worse, its settings left at their
// defaults while the operator believes them set.
func TestSecondDocumentRefused(t *testing.T) {
	doc := strings.Replace(minimalYAML, "providers:", "---\nproviders:", 1)
	doc += "admin: {enabled: false}\n"
	path, err := loadDoc(t, "---"+doc)
	if err == nil {
		t.Fatal("a file of two documents loaded")
	}
	if !strings.Contains(err.Error(), "one YAML document") || !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("the error does not say the file holds more than one document: %v", err)
	}
	// One document, with its start or end marked, is one.
	if _, err := loadDoc(t, "---"+minimalYAML+"...\n"); err != nil {
		t.Errorf("a single marked document: %v", err)
	}
	if _, err := loadDoc(t, "---"+minimalYAML+"---\n"); err != nil {
		t.Errorf("a single document and an empty one: %v", err)
	}
}

// TestSecondDocumentErrorSaid: a syntax error in a second document was never
// read, and so never said.
func TestSecondDocumentErrorSaid(t *testing.T) {
	path, err := loadDoc(t, minimalYAML+"---\nadmin: {enabled: false\n")
	if err == nil {
		t.Fatal("loaded")
	}
	if !strings.Contains(err.Error(), "second YAML document") || !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("the error does not say where: %v", err)
	}
}
