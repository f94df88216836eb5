package adapter

import "github.com/emfa/emfa/internal/jsonkeys"

// checkUniqueKeys refuses a request body that names a key twice (jsonkeys.Check). Every
// request body emfa reads goes through it (decode, SCIM, event hooks, idempotency); the
// walk itself lives in internal/jsonkeys so that an import's JSON lines get the same one.
func checkUniqueKeys(data []byte) error { return jsonkeys.Check(data) }
