package adapters

import (
	"sync"
	"sync/atomic"

	"github.com/pullkit/broker"
)

// revocations remembers when partitions were revoked, so an adapter can
// recognise records it buffered before a revocation and drop them.
//
// Each buffered record carries the epoch read right after it was pulled.
// A record is stale when its partition was revoked at a later epoch. Reading
// the epoch after the pull errs on the safe side: a record pulled during a
// revocation may be handed out once more (processed twice, which the log
// tolerates), but a record of a fresh assignment is never dropped (which
// would let a later commit skip it).
type revocations struct {
	epoch      atomic.Uint64
	mu         sync.Mutex
	revoked    map[broker.TopicPartition]uint64
	unregister func()
}

// watchRevocations registers with src if it is a broker.RevocationNotifier
// and sem has partitions; otherwise it returns nil, which every user of
// revocations accepts as "nothing is ever revoked".
func watchRevocations[T Item](sem *semantics[T], src any) *revocations {
	n, ok := src.(broker.RevocationNotifier)
	if !ok || sem.partition == nil {
		return nil
	}
	r := &revocations{revoked: make(map[broker.TopicPartition]uint64)}
	r.unregister = n.OnRevoke(r.revoke)
	return r
}

func (r *revocations) revoke(tps []broker.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.epoch.Add(1)
	for _, tp := range tps {
		r.revoked[tp] = e
	}
}

// stale reports whether a record of tp pulled at epoch stamp was revoked since.
func (r *revocations) stale(tp broker.TopicPartition, stamp uint64) bool {
	if r == nil || r.epoch.Load() == stamp {
		return false // fast path: nothing was revoked since the pull
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.revoked[tp] > stamp
}

func (r *revocations) close() {
	if r != nil && r.unregister != nil {
		r.unregister()
		r.unregister = nil
	}
}

// forwardRevoke implements broker.RevocationNotifier for an adapter by
// registering f with every source that implements it, so that adapters can
// be stacked and the outermost one still learns about rebalances.
func forwardRevoke(f func([]broker.TopicPartition), srcs ...any) (unregister func()) {
	var uns []func()
	for _, s := range srcs {
		if n, ok := s.(broker.RevocationNotifier); ok {
			uns = append(uns, n.OnRevoke(f))
		}
	}
	return func() {
		for _, u := range uns {
			u()
		}
	}
}
