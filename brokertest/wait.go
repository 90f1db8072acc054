package brokertest

import (
	"context"
	"errors"
	"time"
)

// next calls a Next method with the test's context and fails the test if it
// returns an error: the test expected something to arrive.
func next[T any](e *env, fn func(context.Context) (T, error), what string) T {
	e.t.Helper()
	v, err := fn(e.ctx)
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
	return v
}

// nextWithin calls fn with a context that ends after d. It returns ok=false
// if nothing arrived in time, and fails the test on any other error: absence
// can only be observed for a while, so this is how "not redelivered" is
// checked. A canceled call must lose nothing, so probing is harmless.
func nextWithin[T any](e *env, fn func(context.Context) (T, error), d time.Duration) (T, bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, d)
	defer cancel()
	v, err := fn(ctx)
	switch {
	case err == nil:
		return v, true
	case e.ctx.Err() != nil:
		e.t.Fatalf("test timed out: %v", err)
	case !errors.Is(err, context.DeadlineExceeded):
		e.t.Fatalf("waiting %v for nothing to arrive: want an error matching context.DeadlineExceeded, got %v", d, err)
	}
	var zero T
	return zero, false
}

// oneOrBatch returns a Next function for the cancellation tests: on odd
// calls it is batch, when there is one, and otherwise one wrapped in a
// batch of one, so that both kinds of call are shown to lose nothing when
// their context ends.
func oneOrBatch[T any](one func(context.Context) (T, error), batch func(context.Context) ([]T, error)) func(ctx context.Context, i int) ([]T, error) {
	return func(ctx context.Context, i int) ([]T, error) {
		if batch != nil && i%2 == 1 {
			return batch(ctx)
		}
		v, err := one(ctx)
		if err != nil {
			return nil, err
		}
		return []T{v}, nil
	}
}

// timed runs fn and returns how long it took.
func timed(fn func()) time.Duration {
	start := time.Now()
	fn()
	return time.Since(start)
}

// shortTimeout cycles through timeouts from 0 (already expired) to 2 ms, so
// that canceled calls race with arriving messages.
func shortTimeout(i int) time.Duration { return time.Duration(i%5) * 500 * time.Microsecond }

// pause slows a publishing loop down now and then, so that its messages
// arrive while a consumer's calls are being canceled.
func pause(i int) {
	if i%5 == 0 {
		time.Sleep(time.Millisecond)
	}
}
