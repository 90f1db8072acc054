//go:build unix

package pubsub_test

import (
	"syscall"
	"time"
)

// cpuNow is the CPU time the process used so far (user and system), all
// goroutines included: the benchmarks report it per message, since on a
// shared machine CPU per message is steadier than wall time.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
