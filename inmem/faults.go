package inmem

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// faults holds the injected failures. armed counts the hooks with failures
// left, so the hot paths skip the lock when no test armed any.
type faults struct {
	armed atomic.Int64
	mu    sync.Mutex
	hooks map[faultKey]*fault
}

type faultKind uint8

const (
	faultPublish faultKind = iota + 1
	faultCommit
	faultSettle
)

type faultKey struct {
	kind faultKind
	name string
}

type fault struct {
	left int
	err  error
}

func (f *faults) arm(kind faultKind, name string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hooks == nil {
		f.hooks = make(map[faultKey]*fault)
	}
	k := faultKey{kind, name}
	if _, ok := f.hooks[k]; ok {
		f.armed.Add(-1)
		delete(f.hooks, k)
	}
	if n <= 0 || err == nil {
		return
	}
	f.hooks[k] = &fault{left: n, err: err}
	f.armed.Add(1)
}

// take consumes one failure of the hook, if it has any left.
func (f *faults) take(kind faultKind, name string) error {
	if f.armed.Load() == 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := faultKey{kind, name}
	h, ok := f.hooks[k]
	if !ok {
		return nil
	}
	h.left--
	if h.left == 0 {
		delete(f.hooks, k)
		f.armed.Add(-1)
	}
	return h.err
}

// FailNextPublishes makes the next n messages published to topic fail with
// an error wrapping err, before they are appended. In a BatchPublish each
// message takes one failure, so a batch of 5 after FailNextPublishes(t, 2,
// err) fails its first two messages and appends the other three. n <= 0 or a
// nil err removes the hook. Dead letters forwarded to topic are not affected.
func (b *Broker) FailNextPublishes(topic string, n int, err error) {
	b.faults.arm(faultPublish, topic, n, err)
}

// FailNextCommits makes the next n record acks of consumer group group, on
// any topic, fail with an error wrapping err: AckContext returns it and
// the committed offset does not move. n <= 0 or a nil err removes the hook.
func (b *Broker) FailNextCommits(group string, n int, err error) {
	b.faults.arm(faultCommit, group, n, err)
}

// FailNextSettles makes the next n settlements (ack, nack or reject) of
// queue subscription subscription, on any topic, fail with an error wrapping
// err, as if they were lost on the way: Settle and AckContext return it and
// the message stays delivered until its ack deadline passes. n <= 0 or a nil
// err removes the hook.
func (b *Broker) FailNextSettles(subscription string, n int, err error) {
	b.faults.arm(faultSettle, subscription, n, err)
}

func injected(what, name string, err error) error {
	return fmt.Errorf("inmem: injected fault: %s %q: %w", what, name, err)
}
