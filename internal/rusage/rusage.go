// Package rusage reads the CPU time this process has used, for the benchmarks that report
// CPU per operation (cpu-µs/op): wall time on a shared two-core machine says little.
package rusage

import "time"

// Process is the CPU time, user and system, this process has used so far; 0 where the
// system does not tell (getrusage is Unix's).
func Process() time.Duration { return process() }
