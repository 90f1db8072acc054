package broker

import (
	"context"
	"fmt"
	"time"
)

// Record is one entry of a log: it lives at Offset in Partition of Topic, and
// acking it commits that offset, cumulatively: a commit also covers every
// earlier record of the same partition. Records of one partition are
// processed in order; there is no Nack, because a log does not redeliver one
// record, it replays from the last commit.
//
// Never ack a record before every earlier record of its partition was
// processed: that is how data is lost. The adapters' record receivers keep
// this rule for you by committing only a contiguous watermark.
type Record struct {
	// Offset is the record's position in its partition.
	Offset int64

	// Partition is the index of the partition within Topic.
	Partition int64

	// Topic is the topic (stream, subject) the record was read from.
	Topic string

	// Key identifies the payload (not the record); records with one key go to
	// one partition.
	Key string

	// Value is the payload.
	Value []byte

	// Attributes are the record's headers. See each backend's package doc for how types map.
	Attributes map[string]any

	// PublishTime is when the record was appended.
	PublishTime time.Time

	// IngestionTime is when this consumer received it.
	IngestionTime time.Time

	// CommitFunc is the seed's commit hook, kept for hand-built records: when
	// Settler is nil, Ack calls it if set, with no once-only guarantee.
	// Records from this module's backends leave it nil.
	CommitFunc func()

	// Settler commits the record's offset exactly once; backends set it with NewSettler.
	Settler *Settler
}

// Ack marks the record processed and commits its offset, which covers every
// earlier record of its partition. It does not wait: backends batch commits,
// and a failed commit surfaces on the next NextRecord/NextBatch or on Close
// (see the backend's doc). The first Ack wins; later calls do nothing. Safe
// on a zero Record.
func (r *Record) Ack() {
	if r.Settler == nil {
		if r.CommitFunc != nil {
			r.CommitFunc()
		}
		return
	}
	_ = r.Settler.settle(context.Background(), Settlement{Kind: SettleAck, NoWait: true})
}

// AckContext commits the record's offset and waits until the broker
// confirms, or ctx ends. It returns ErrAlreadySettled if the record was acked
// before, ErrPartitionRevoked if its partition is no longer this consumer's,
// and nil for a zero Record.
func (r *Record) AckContext(ctx context.Context) error {
	if r.Settler == nil {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.CommitFunc != nil {
			r.CommitFunc()
		}
		return nil
	}
	return r.Settler.settle(ctx, Settlement{Kind: SettleAck})
}

// Settled reports whether the record was already acked.
func (r *Record) Settled() bool { return r.Settler != nil && r.Settler.Settled() }

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int64
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

// PartitionOf returns the record's topic and partition.
func (r *Record) PartitionOf() TopicPartition {
	return TopicPartition{Topic: r.Topic, Partition: r.Partition}
}

// RevocationNotifier is implemented by record sources whose partitions can
// be taken away (consumer-group rebalances). The adapters use it to drop
// records they buffered for a revoked partition and to refuse later acks of
// its records, so a commit is never applied on behalf of the partition's new
// owner.
type RevocationNotifier interface {
	// OnRevoke registers f. The source calls f synchronously, never
	// concurrently with itself, before the partitions' new owner can read
	// them; f must not block for long and must not call the source. The
	// slice is f's to keep. The returned function unregisters f.
	OnRevoke(f func(revoked []TopicPartition)) (unregister func())
}
