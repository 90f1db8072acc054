package inmem

import (
	"sort"
	"sync"
	"time"
)

// Clock is the broker's source of time: ack deadlines and delayed nacks are
// timers of this clock. The default is the system clock; tests use a
// FakeClock to make deadlines pass without sleeping.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once, d from now, unless stop is called first. stop
	// reports whether it prevented the call. f must not be called while the
	// caller of AfterFunc still runs (the broker holds locks there).
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// instantClock is a Clock that can schedule at an instant. The broker
// prefers it to AfterFunc: a delay computed from Now is stale if the clock
// moves before the timer is made, as a FakeClock does when another
// goroutine advances it, and the timer would then fire that much late.
type instantClock interface {
	afterFuncAt(at time.Time, f func()) (stop func() bool)
}

// systemClock is the Clock of the time package.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// FakeClock is a Clock that moves only when told to. Its timers run
// synchronously inside Advance (or Set), in the order they are due, with Now
// reporting each timer's due time while it runs; so after Advance returns,
// every ack deadline that passed has already been acted on. It is safe for
// concurrent use.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers []*fakeTimer // unordered; few enough that sorting on Advance is cheap
}

type fakeTimer struct {
	at  time.Time
	seq uint64 // ties on at fire in creation order
	f   func()
}

// DefaultEpoch is a convenient start for a FakeClock: a fixed instant, so
// tests that print times are reproducible.
var DefaultEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// NewFakeClock returns a FakeClock that reads t0 until it is advanced.
func NewFakeClock(t0 time.Time) *FakeClock { return &FakeClock{now: t0} }

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f for d from the clock's current time. A timer with
// d <= 0 is due at once but, like every FakeClock timer, runs only inside
// the next Advance or Set (Advance(0) runs it).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addLocked(c.now.Add(d), f)
}

// afterFuncAt schedules f at at; a time already past runs in the next
// Advance or Set.
func (c *FakeClock) afterFuncAt(at time.Time, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addLocked(at, f)
}

func (c *FakeClock) addLocked(at time.Time, f func()) func() bool {
	c.seq++
	t := &fakeTimer{at: at, seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return func() bool { return c.stop(t) }
}

func (c *FakeClock) stop(t *fakeTimer) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock d forward and runs every timer due by then,
// including timers those timers schedule, before it returns. A negative d
// is treated as 0.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now
	if d > 0 {
		target = target.Add(d)
	}
	c.mu.Unlock()
	c.Set(target)
}

// Set moves the clock to t, running due timers as Advance does. The clock
// never goes backwards: a t before Now only runs the timers already due.
func (c *FakeClock) Set(t time.Time) {
	for {
		c.mu.Lock()
		// now steps to each timer's due time before the timer runs, so
		// the timer reads the time it was due at.
		next := c.nextDueLocked(t)
		if next == nil {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		// Run without the lock: timers call back into the broker, which
		// schedules more timers.
		next.f()
	}
}

// nextDueLocked removes and returns the earliest timer due by t, or nil.
func (c *FakeClock) nextDueLocked(t time.Time) *fakeTimer {
	if len(c.timers) == 0 {
		return nil
	}
	sort.SliceStable(c.timers, func(i, j int) bool {
		a, b := c.timers[i], c.timers[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return a.seq < b.seq
	})
	first := c.timers[0]
	if first.at.After(t) && first.at.After(c.now) {
		return nil
	}
	c.timers = c.timers[1:]
	return first
}

// Pending returns how many timers are scheduled and not yet run or stopped,
// for tests that wait until the broker armed a deadline.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
