package builtin

// SetArgon2 lowers the cost of hashing answers, for tests that enroll many questions.
func SetArgon2(e *Engine, p Argon2Params) { e.factors[TypeQuestion].(*questionFactor).s.argon2 = p }

// SetNotifier puts a test's notifier behind push.
func SetNotifier(e *Engine, n Notifier) { e.factors[TypePush].(*pushFactor).notifier = n }

// The test's new factor type (backupcode_test.go) is one line of the registry.
func init() { registry[TypeBackupCode] = newBackupCodeSettings }
