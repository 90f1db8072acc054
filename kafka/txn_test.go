package kafka_test

import (
	"errors"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// TestAbortedTransactionIsInvisibleAndCommittedOneAppears: a read-committed
// consumer (the default) sees the committed transaction's records only; a
// read-uncommitted one sees the aborted records too.
func TestAbortedTransactionIsInvisibleAndCommittedOneAppears(t *testing.T) {
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			tc := tg.cluster(t)
			topic := tc.topic(t, 1, nil)
			p, err := kafka.NewTransactionalPublisher(testCtx(t), tc.cfg, unique("txn"))
			if err != nil {
				t.Fatalf("NewTransactionalPublisher: %v", err)
			}
			defer p.Close()
			tp, err := p.Topic(topic)
			if err != nil {
				t.Fatal(err)
			}
			if err := tp.Publish(testCtx(t), broker.OutboundMessage{Data: []byte("outside")}); !errors.Is(err, broker.ErrInvalidOption) {
				t.Errorf("Publish before Begin: got %v, want an error matching ErrInvalidOption", err)
			}

			must := func(err error, what string) {
				t.Helper()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
			}
			must(p.Begin(), "Begin")
			must(tp.Publish(testCtx(t), broker.OutboundMessage{Data: []byte("aborted-1")}), "Publish")
			must(tp.BatchPublish(testCtx(t), broker.OutboundMessage{Data: []byte("aborted-2")}), "BatchPublish")
			aborted, err := p.Abort(testCtx(t))
			if err != nil || !aborted {
				t.Fatalf("Abort: got %v, %v; want true, nil", aborted, err)
			}
			must(p.Begin(), "second Begin")
			must(tp.BatchPublish(testCtx(t), broker.OutboundMessage{Data: []byte("committed-1")}, broker.OutboundMessage{Data: []byte("committed-2")}), "BatchPublish")
			committed, err := p.Commit(testCtx(t))
			if err != nil || !committed {
				t.Fatalf("Commit: got %v, %v; want true, nil", committed, err)
			}
			// false, nil would say "aborted" (broker.TransactionalPublisher)
			// of a transaction that committed: a caller retrying it would
			// publish twice.
			if ok, err := p.Commit(testCtx(t)); ok || !errors.Is(err, broker.ErrInvalidOption) {
				t.Errorf("Commit without a transaction: got %v, %v; want false and an error matching ErrInvalidOption", ok, err)
			}

			c := tc.join(t, topic, unique("group"), kafka.LogOptions{})
			if got := values(readAll(t, c, 500*time.Millisecond)); !slices.Equal(got, []string{"committed-1", "committed-2"}) {
				t.Errorf("read-committed consumer read %v, want [committed-1 committed-2]", got)
			}
			uncfg := tc.cfg
			uncfg.ReadUncommitted = true
			u, err := kafka.JoinGroup(testCtx(t), uncfg, unique("group"), []string{topic}, kafka.LogOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			got := values(readAll(t, u, 500*time.Millisecond))
			sort.Strings(got)
			if want := []string{"aborted-1", "aborted-2", "committed-1", "committed-2"}; !slices.Equal(got, want) {
				t.Errorf("read-uncommitted consumer read %v, want %v", got, want)
			}
		})
	}
}
