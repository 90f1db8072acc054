package brokertest

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The watchdog's grace periods after a test's Timeout. Every call returns
// within Options.Prompt of its context ending, so a test still running a
// couple of Prompts later is hung: it is failed and what it opened is
// closed, which unblocks a backend that ignores its context. If even that
// does not end it, the process panics with every goroutine's stack, rather
// than hang until go test's own timeout.
func graces(opts Options) (closeAfter, panicAfter time.Duration) {
	closeAfter = opts.Timeout + max(2*opts.Prompt, 2*time.Second)
	return closeAfter, closeAfter + 10*time.Second
}

// env is one running test: its context (ending at Options.Timeout), the
// closers it opened, and the options.
type env struct {
	t    *testing.T
	ctx  context.Context
	opts Options

	mu      sync.Mutex
	closers []io.Closer
	done    bool
}

// names hands out subscription and group names unique within the process,
// so tests never share durable state by accident.
var names atomic.Int64

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, names.Add(1))
}

// runner starts the tests of one suite run. Tests wait on the broker far
// more than they compute, so they run concurrently, each in its own
// goroutine calling t.Run (which testing allows), up to Options.Parallel at a
// time, rather than with t.Parallel, which go test bounds by GOMAXPROCS.
type runner struct {
	t    *testing.T
	opts Options
	sem  chan struct{}
	wg   sync.WaitGroup
}

func newRunner(t *testing.T, opts Options) *runner {
	return &runner{t: t, opts: opts, sem: make(chan struct{}, opts.Parallel)}
}

// wait returns when every test started by run has finished.
func (r *runner) wait() { r.wg.Wait() }

// run runs fn as subtest name under a watchdog, concurrently with the other
// tests unless Options.Serial.
func (r *runner) run(name string, fn func(e *env)) {
	if r.opts.Serial {
		runTest(r.t, r.opts, name, fn)
		return
	}
	r.sem <- struct{}{}
	r.wg.Go(func() {
		defer func() { <-r.sem }()
		runTest(r.t, r.opts, name, fn)
	})
}

// runTest runs fn as subtest name under a watchdog.
func runTest(t *testing.T, opts Options, name string, fn func(e *env)) {
	t.Run(name, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), opts.Timeout)
		e := &env{t: t, ctx: ctx, opts: opts}

		closeAfter, panicAfter := graces(opts)
		soft := time.AfterFunc(closeAfter, func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.done {
				return
			}
			t.Errorf("watchdog: test still running %v after it started (timeout %v); closing its consumers and publishers", closeAfter, opts.Timeout)
			for _, c := range e.closers {
				go c.Close() // may hang too; the hard watchdog covers that
			}
		})
		hard := time.AfterFunc(panicAfter, func() {
			e.mu.Lock()
			done := e.done
			e.mu.Unlock()
			if done {
				return
			}
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			panic(fmt.Sprintf("brokertest: %s still running %v after it started, even after its consumers were closed\n\n%s", t.Name(), panicAfter, buf))
		})
		// Registered first, so it runs after every other cleanup (closing
		// consumers can hang too).
		t.Cleanup(func() {
			e.mu.Lock()
			e.done = true
			e.mu.Unlock()
			soft.Stop()
			hard.Stop()
			cancel()
		})
		fn(e)
	})
}

// track makes the suite close c when the test ends, and lets the watchdog
// close it early. Close errors are reported.
func (e *env) track(what string, c io.Closer) {
	e.mu.Lock()
	e.closers = append(e.closers, c)
	e.mu.Unlock()
	e.t.Cleanup(func() {
		if err := c.Close(); err != nil {
			e.t.Errorf("closing %s: %v", what, err)
		}
	})
}

// must fails the test if err is not nil.
func (e *env) must(err error, format string, args ...any) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// leakCheck returns a function that fails t if goroutines started after
// leakCheck was called are still alive. Call it before the tests and run
// the result after them.
func leakCheck(t *testing.T, opts Options) func() {
	if opts.SkipLeakCheck {
		return func() {}
	}
	before := goleak.IgnoreCurrent()
	return func() {
		t.Run("LeavesNoGoroutineBehind", func(t *testing.T) {
			goleak.VerifyNone(t, append([]goleak.Option{before}, opts.LeakOptions...)...)
		})
	}
}
