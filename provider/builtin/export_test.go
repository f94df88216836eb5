package builtin

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/emfa/emfa/store"
)

// SetArgon2 lowers the cost of hashing answers, for tests that enroll many questions.
func SetArgon2(e *Engine, p Argon2Params) { e.factors[TypeQuestion].(*questionFactor).s.argon2 = p }

// SetNotifier puts a test's notifier behind push.
func SetNotifier(e *Engine, n Notifier) { e.factors[TypePush].(*pushFactor).notifier = n }

// The test's new factor type (backupcode_test.go) is one line of the registry.
func init() { registry[TypeBackupCode] = newBackupCodeSettings }

// SetAnswerHash puts the hash of normalized as answer i of question factor id, as an
// earlier normalisation would have hashed it.
func SetAnswerHash(t testing.TB, e *Engine, st store.Store, id string, i int, normalized string) {
	t.Helper()
	ctx := context.Background()
	f, err := st.GetFactor(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.keys.Open(f.Secret, f.KeyID, []byte(f.ID))
	if err != nil {
		t.Fatal(err)
	}
	var s questionSecret
	if err := json.Unmarshal(plain, &s); err != nil {
		t.Fatal(err)
	}
	s.Answers[i] = hashAnswer(e.factors[TypeQuestion].(*questionFactor).s.argon2, normalized)
	plain, _ = json.Marshal(s)
	sealed, keyID, err := e.keys.Seal(plain, []byte(f.ID))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateFactorSecret(ctx, id, sealed, keyID, time.Now()); err != nil {
		t.Fatal(err)
	}
}
