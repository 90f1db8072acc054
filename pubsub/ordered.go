package pubsub

import (
	"context"

	gpubsub "cloud.google.com/go/pubsub/v2"
)

// When a message with an ordering key fails, the library pauses the key:
// it fails every later message of the key (ErrPublishingPaused) instead of
// sending it after the gap, until ResumePublish. The backend resumes a key
// by itself, but only once every message of the key that had been handed
// to the library when the failure was seen has its outcome: resumed any
// earlier, the library would publish those after the hole, breaking the
// order, and report them sent. Messages without an ordering key are not
// tracked.

// orderedKey is the state of one ordering key with messages in flight.
type orderedKey struct {
	next     uint64 // sequence number of the key's next message
	inflight int    // messages handed to the library, outcome not seen

	// paused: a failure was seen and the key is not resumed yet; it is
	// once the before messages in flight with a sequence number below
	// barrier have their outcomes.
	paused  bool
	barrier uint64
	before  int

	// abandoned are messages whose caller stopped waiting (ctx ended):
	// their outcomes are collected on the key's next activity. They come
	// before later messages of the key, which the library sends one
	// request at a time and in order, so they are ready by then.
	abandoned []abandonedResult
}

type abandonedResult struct {
	seq uint64
	r   *gpubsub.PublishResult
}

// track counts a message of key about to be handed to the library and
// returns its sequence number.
func (t *Topic) track(key string) uint64 {
	t.keysMu.Lock()
	defer t.keysMu.Unlock()
	if t.keys == nil {
		t.keys = map[string]*orderedKey{}
	}
	k := t.keys[key]
	if k == nil {
		k = &orderedKey{}
		t.keys[key] = k
	}
	t.collect(key, k)
	seq := k.next
	k.next++
	k.inflight++
	return seq
}

// finished records the outcome of the key's message seq, and resumes the
// key when that was the last one it waited for.
func (t *Topic) finished(key string, seq uint64, failed bool) {
	t.keysMu.Lock()
	defer t.keysMu.Unlock()
	k := t.keys[key]
	if k == nil {
		return
	}
	t.collect(key, k)
	t.outcome(key, k, seq, failed)
}

// abandon leaves the outcome of the key's message seq to be collected later.
func (t *Topic) abandon(key string, seq uint64, r *gpubsub.PublishResult) {
	t.keysMu.Lock()
	defer t.keysMu.Unlock()
	if k := t.keys[key]; k != nil {
		k.abandoned = append(k.abandoned, abandonedResult{seq: seq, r: r})
	}
}

// collect takes the outcomes of abandoned messages that are ready.
// keysMu is held.
func (t *Topic) collect(key string, k *orderedKey) {
	if len(k.abandoned) == 0 {
		return
	}
	kept := k.abandoned[:0]
	for _, a := range k.abandoned {
		select {
		case <-a.r.Ready():
			_, err := a.r.Get(context.Background()) // ready: does not wait
			t.outcome(key, k, a.seq, err != nil)
		default:
			kept = append(kept, a)
		}
	}
	clear(k.abandoned[len(kept):])
	k.abandoned = kept
}

// outcome applies one message's outcome. keysMu is held.
func (t *Topic) outcome(key string, k *orderedKey, seq uint64, failed bool) {
	k.inflight--
	switch {
	case k.paused:
		// Failures now are the pause's doing (or come after it).
		if seq < k.barrier {
			k.before--
		}
	case failed:
		k.paused, k.barrier, k.before = true, k.next, k.inflight
	}
	if k.paused && k.before == 0 {
		k.paused = false
		t.native.ResumePublish(key)
	}
	if k.inflight == 0 && !k.paused {
		delete(t.keys, key)
	}
}
