package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
)

// TransactionalPublisher publishes atomically with Kafka transactions:
// records published between Begin and Commit become visible to
// read-committed consumers (this package's default) together, or never
// after Abort. One transaction at a time per publisher; its Topics are
// safe for concurrent use within the transaction.
type TransactionalPublisher struct {
	*Publisher
	mu     sync.Mutex
	open   bool
	failed atomic.Bool // a record of the open transaction failed
}

var _ broker.TransactionalPublisher = (*TransactionalPublisher)(nil)

// NewTransactionalPublisher connects with the given transactional ID, which
// must be stable across restarts of one logical producer (a new instance
// with the same ID fences the old one) and unique among producers.
func NewTransactionalPublisher(ctx context.Context, cfg Config, transactionalID string) (*TransactionalPublisher, error) {
	if transactionalID == "" {
		return nil, fmt.Errorf("%w: empty transactional ID", broker.ErrInvalidOption)
	}
	cfg.DisableIdempotence = false // transactions need it
	p, err := newPublisher(ctx, cfg, []kgo.Opt{kgo.TransactionalID(transactionalID)})
	if err != nil {
		return nil, err
	}
	tp := &TransactionalPublisher{Publisher: p}
	p.txn = tp
	return tp, nil
}

// Begin starts a transaction. It fails if one is already open or the
// publisher is closed.
func (t *TransactionalPublisher) Begin() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed.Load() {
		return fmt.Errorf("kafka: begin: %w", broker.ErrClosed)
	}
	if t.open {
		return fmt.Errorf("kafka: begin: %w: a transaction is already open", broker.ErrInvalidOption)
	}
	if err := t.cl.BeginTransaction(); err != nil {
		return classify(nil, "begin", err)
	}
	t.open = true
	return nil
}

func (t *TransactionalPublisher) inTxn() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open {
		return fmt.Errorf("kafka: publish: %w: no open transaction (call Begin first)", broker.ErrInvalidOption)
	}
	return nil
}

// Commit waits for every record of the transaction to be acknowledged and
// commits it. If a record failed, the transaction is aborted instead and
// Commit returns false with the produce error. Without an open transaction
// (none begun, or already ended) it returns false and an error matching
// broker.ErrInvalidOption: false with a nil error means "aborted".
func (t *TransactionalPublisher) Commit(ctx context.Context) (bool, error) {
	return t.end(ctx, true)
}

// Abort discards the transaction's records (those still buffered are never
// sent). It reports whether a transaction was open.
func (t *TransactionalPublisher) Abort(ctx context.Context) (bool, error) {
	t.mu.Lock()
	open := t.open
	t.mu.Unlock()
	if !open {
		return false, ctx.Err()
	}
	_, err := t.end(ctx, false)
	return err == nil, err
}

func (t *TransactionalPublisher) end(ctx context.Context, commit bool) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if !t.open {
		if commit {
			return false, fmt.Errorf("kafka: commit: %w: no open transaction (call Begin first)", broker.ErrInvalidOption)
		}
		return false, nil
	}
	if commit {
		// Flush waits for every record's acknowledgement.
		if err := t.cl.Flush(ctx); err != nil {
			return false, classify(ctx, "commit: flush", err)
		}
		if !t.failed.Load() {
			err := t.cl.EndTransaction(ctx, kgo.TryCommit)
			if err == nil {
				t.open = false
				return true, nil
			}
			// Not committed, or unknown: franz-go's advice is to abort,
			// which fences anything still pending broker-side.
			if aerr := t.abortLocked(ctx); aerr != nil {
				return false, errors.Join(classify(ctx, "commit", err), aerr)
			}
			return false, classify(ctx, "commit (aborted instead)", err)
		}
		if err := t.abortLocked(ctx); err != nil {
			return false, err
		}
		return false, errors.New("kafka: commit: a record of the transaction failed to publish; the transaction was aborted")
	}
	if err := t.abortLocked(ctx); err != nil {
		return false, err
	}
	return false, nil
}

func (t *TransactionalPublisher) abortLocked(ctx context.Context) error {
	if err := t.cl.AbortBufferedRecords(ctx); err != nil {
		return classify(ctx, "abort", err)
	}
	if err := t.cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		return classify(ctx, "abort", err) // still open: the caller may retry
	}
	t.open = false
	t.failed.Store(false)
	return nil
}

// closeLocked aborts an open transaction on Close, so nothing half-done
// stays pending until the transaction timeout.
func (t *TransactionalPublisher) closeLocked(ctx context.Context) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open {
		return
	}
	_ = t.abortLocked(ctx)
	t.open = false
}
