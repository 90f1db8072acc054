package inmem

import "time"

type eventKind uint8

const (
	eventDeadline eventKind = iota + 1 // an ack deadline passes
	eventReady                         // a delayed nack becomes deliverable
)

type timerEvent struct {
	at   time.Time
	key  msgKey
	gen  uint64
	kind eventKind
}

// timers keeps a subscription's deadlines in a min-heap and arms a single
// Clock timer for the earliest one, so a delivery costs a heap push, not a
// runtime timer and a goroutine. Settled messages leave their events behind;
// they are skipped when due and swept out when they outnumber live ones.
// Guarded by the subscription's lock.
type timers struct {
	s       *subscription
	heap    []timerEvent
	armedAt time.Time
	stop    func() bool // nil when no timer is armed
	seq     uint64      // identifies the armed timer
}

func (ts *timers) addLocked(ev timerEvent) {
	if n := len(ts.heap); n >= 256 && n > 4*ts.s.liveCountLocked() {
		ts.sweepLocked()
	}
	ts.heap = append(ts.heap, ev)
	ts.up(len(ts.heap) - 1)
	ts.armLocked()
}

// armLocked makes sure a Clock timer fires no later than the earliest event.
func (ts *timers) armLocked() {
	if ts.s.closed || len(ts.heap) == 0 {
		return
	}
	next := ts.heap[0].at
	if ts.stop != nil && !ts.armedAt.After(next) {
		return
	}
	if ts.stop != nil {
		ts.stop()
	}
	ts.seq++
	seq, s := ts.seq, ts.s
	ts.armedAt = next
	fire := func() { s.onTimer(seq) }
	if c, ok := s.b.clock.(instantClock); ok {
		ts.stop = c.afterFuncAt(next, fire)
		return
	}
	ts.stop = s.b.clock.AfterFunc(next.Sub(s.b.clock.Now()), fire)
}

func (ts *timers) stopLocked() {
	if ts.stop != nil {
		ts.stop()
		ts.stop = nil
	}
	ts.heap = nil
}

// onTimer runs the due events and arms the timer for the next one.
func (s *subscription) onTimer(seq uint64) {
	s.mu.Lock()
	ts := &s.timers
	if seq == ts.seq {
		ts.stop = nil
	}
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := s.b.clock.Now()
	for len(ts.heap) > 0 && !ts.heap[0].at.After(now) {
		s.fireLocked(ts.pop())
	}
	ts.armLocked()
	dead := s.takeDeadLocked()
	s.mu.Unlock()
	s.b.forward(dead)
}

// sweepLocked drops events that no longer matter and restores the heap.
func (ts *timers) sweepLocked() {
	live := ts.heap[:0]
	for _, ev := range ts.heap {
		if ts.s.liveLocked(ev) {
			live = append(live, ev)
		}
	}
	clear(ts.heap[len(live):])
	ts.heap = live
	for i := len(ts.heap)/2 - 1; i >= 0; i-- {
		ts.down(i)
	}
}

func (ts *timers) pop() timerEvent {
	h := ts.heap
	ev := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = timerEvent{}
	ts.heap = h[:last]
	if last > 0 {
		ts.down(0)
	}
	return ev
}

func (ts *timers) less(i, j int) bool { return ts.heap[i].at.Before(ts.heap[j].at) }

func (ts *timers) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !ts.less(i, parent) {
			return
		}
		ts.heap[i], ts.heap[parent] = ts.heap[parent], ts.heap[i]
		i = parent
	}
}

func (ts *timers) down(i int) {
	n := len(ts.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && ts.less(r, l) {
			m = r
		}
		if !ts.less(m, i) {
			return
		}
		ts.heap[i], ts.heap[m] = ts.heap[m], ts.heap[i]
		i = m
	}
}
