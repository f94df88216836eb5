//go:build !unix

package sqlite

import "os"

// lockFile does not lock where flock is missing: one serving process per file is then the
// operator's to keep (README).
func lockFile(*os.File) error { return nil }
