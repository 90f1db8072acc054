//go:build unix

package kafka_test

import (
	"syscall"
	"time"
)

// processCPU is the CPU time this process used so far (all goroutines:
// the client's, kfake's and the benchmark's), which a shared machine's
// load disturbs far less than wall time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
