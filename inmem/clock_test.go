package inmem

import (
	"slices"
	"testing"
	"time"
)

func TestFakeClockRunsDueTimersInOrderAtTheirTime(t *testing.T) {
	c := NewFakeClock(t0)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			got = append(got, name)
			at = append(at, c.Now().Sub(t0))
		}
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(time.Second, record("a"))
	stop := c.AfterFunc(2*time.Second, record("stopped"))
	c.AfterFunc(2*time.Second, func() {
		record("b")()
		// Scheduled from a timer, due within the same Advance.
		c.AfterFunc(500*time.Millisecond, record("b+"))
	})
	if !stop() || stop() {
		t.Fatal("stop should succeed exactly once")
	}
	c.Advance(3 * time.Second)
	if !slices.Equal(got, []string{"a", "b", "b+", "c"}) {
		t.Fatalf("ran %v", got)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 3 * time.Second}; !slices.Equal(at, want) {
		t.Fatalf("ran at %v, want %v", at, want)
	}
	if c.Now() != t0.Add(3*time.Second) || c.Pending() != 0 {
		t.Fatalf("now %v, pending %d", c.Now(), c.Pending())
	}
}

func TestFakeClockNeverGoesBack(t *testing.T) {
	c := NewFakeClock(t0)
	ran := false
	c.AfterFunc(0, func() { ran = true })
	if ran {
		t.Fatal("ran inside AfterFunc")
	}
	c.Advance(-time.Hour)
	if !ran || c.Now() != t0 {
		t.Fatalf("ran %v, now %v", ran, c.Now())
	}
	c.Set(t0.Add(-time.Hour))
	if c.Now() != t0 {
		t.Fatalf("went back to %v", c.Now())
	}
}

func TestSystemClockTimersStop(t *testing.T) {
	stop := (systemClock{}).AfterFunc(time.Hour, func() { t.Error("ran") })
	if !stop() {
		t.Fatal("stop failed")
	}
	if (systemClock{}).Now().IsZero() {
		t.Fatal("zero time")
	}
}

func TestOptionsIgnoreOutOfRangeValues(t *testing.T) {
	b := newBroker(t, WithClock(nil), WithDefaultPartitions(0), WithMaxMessageSize(-1), nil)
	if b.defaultPartitions != DefaultPartitions || b.maxMessageSize != DefaultMaxMessageSize || b.clock == nil {
		t.Fatalf("%+v", b)
	}
	b2 := newBroker(t, WithDefaultPartitions(7))
	publish(t, b2, "t", data("x")...)
	if n := len(b2.lookup("t").parts); n != 7 {
		t.Fatalf("%d partitions", n)
	}
}

func TestPartitionLogChunksKeepEveryOffsetAddressable(t *testing.T) {
	var l partitionLog
	const n = smallEntries + 3*maxChunk + 5
	var ptrs []*entry
	for i := range n {
		ptrs = append(ptrs, l.append(entry{offset: int64(i)}))
	}
	for i := range int64(n) {
		e := l.at(i)
		if e.offset != i || e != ptrs[i] {
			t.Fatalf("at(%d) = offset %d", i, e.offset)
		}
	}
	if l.len() != n {
		t.Fatalf("len %d", l.len())
	}
}

// jumpyClock is a FakeClock that moves once, just before the broker arms a
// timer: what happens when a test goroutine calls Advance while a consumer
// goroutine is between reading the time and arming the deadline's timer.
type jumpyClock struct {
	*FakeClock
	by     time.Duration
	jumped bool // guarded by the subscription's lock, held while arming
}

func (c *jumpyClock) jump() {
	if !c.jumped {
		c.jumped = true
		c.FakeClock.Advance(c.by)
	}
}

func (c *jumpyClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.jump()
	return c.FakeClock.AfterFunc(d, f)
}

func (c *jumpyClock) afterFuncAt(at time.Time, f func()) func() bool {
	c.jump()
	return c.FakeClock.afterFuncAt(at, f)
}

func TestDeadlineArmedWhileTheClockMovesStillFiresAtTheNextAdvance(t *testing.T) {
	clock := &jumpyClock{FakeClock: NewFakeClock(t0), by: 20 * time.Second}
	b := newBroker(t, WithClock(clock))
	sub := subscribe(t, b, "t", "s", QueueConfig{AckDeadline: 10 * time.Second})
	publish(t, b, "t", data("x")...)
	m := next(t, sub)
	if got := clock.Now().Sub(m.IngestionTime); got != 20*time.Second {
		t.Fatalf("clock moved %v after the delivery, want 20s", got)
	}
	// The deadline (10s) is behind the clock (20s): the next Advance must
	// act on it, not one 20s later.
	clock.Advance(0)
	if n := available(sub); n != 1 {
		t.Fatalf("%d messages available after the 10s deadline passed, want the expired one", n)
	}
}
