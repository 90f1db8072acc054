package brokertest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pullkit/broker"
)

// RunLogTests runs the log conformance tests against h: the publishing
// tests, then the order, commit, rebalance, lifecycle and capability tests,
// in parallel (unless h.Options.Serial), then the goroutine-leak check.
func RunLogTests(t *testing.T, h LogHarness) {
	t.Helper()
	l := &logSuite{h: h, opts: h.Options.withDefaults()}
	if h.NewTopic == nil || h.Publisher == nil || h.JoinGroup == nil {
		t.Fatal("brokertest: LogHarness needs NewTopic, Publisher and JoinGroup")
	}
	checkLeaks := leakCheck(t, l.opts)
	t.Run("Log", func(t *testing.T) {
		r := newRunner(t, l.opts)
		runPublishTests(r, l.side())
		l.run(r)
		r.wait()
	})
	checkLeaks()
}

type logSuite struct {
	h    LogHarness
	opts Options
}

// partitions is how many partitions the multi-partition tests use.
func (l *logSuite) partitions() int {
	if m := l.h.Features.MaxPartitions; m > 0 && m < 4 {
		return m
	}
	return 4
}

func (l *logSuite) topic(e *env, partitions int) string {
	e.t.Helper()
	name, err := l.h.NewTopic(e.ctx, e.t, partitions)
	e.must(err, "NewTopic(%d partitions)", partitions)
	return name
}

func (l *logSuite) publisher(e *env) broker.Publisher {
	e.t.Helper()
	p, err := l.h.Publisher(e.ctx, e.t)
	e.must(err, "Publisher")
	if c, ok := p.(interface{ Close() error }); ok {
		e.track("publisher", c)
	}
	return p
}

func (l *logSuite) join(e *env, topic, group string, o GroupOptions) LogConsumer {
	e.t.Helper()
	c, err := l.h.JoinGroup(e.ctx, e.t, topic, group, o)
	e.must(err, "JoinGroup(%q, %q)", topic, group)
	e.track("consumer in "+group, c)
	return c
}

// publish publishes n records one at a time, so that their order is the
// publishing order: record i has key keyOf(i) and value "r<i>".
func (l *logSuite) publish(e *env, topic string, n int, keyOf func(int) string) {
	e.t.Helper()
	tp, err := l.publisher(e).Topic(topic)
	e.must(err, "Publisher.Topic(%q)", topic)
	for i := range n {
		e.must(tp.Publish(e.ctx, broker.OutboundMessage{Key: keyOf(i), Data: fmt.Appendf(nil, "r%d", i)}), "Publish of record %d", i)
	}
}

func oneKey(int) string     { return "k" }
func manyKeys(i int) string { return fmt.Sprint("k", i) }

// read reads n records, checking their topic and per-partition order.
func (l *logSuite) read(e *env, c LogConsumer, topic string, n int) []broker.Record {
	e.t.Helper()
	recs := make([]broker.Record, 0, n)
	order := offsetOrder{}
	for len(recs) < n {
		r := next(e, c.NextRecord, fmt.Sprintf("record %d of %d", len(recs)+1, n))
		l.checkFields(e, r, topic)
		order.check(e, r)
		recs = append(recs, r)
	}
	return recs
}

// checkFields checks what every record carries.
func (l *logSuite) checkFields(e *env, r broker.Record, topic string) {
	e.t.Helper()
	if r.Topic != topic {
		e.t.Errorf("record %q has Topic %q, want %q", r.Value, r.Topic, topic)
	}
	if r.Partition < 0 || r.Offset < 0 {
		e.t.Errorf("record %q at partition %d offset %d: want both non-negative", r.Value, r.Partition, r.Offset)
	}
	if r.PublishTime.IsZero() {
		e.t.Errorf("record %q has a zero PublishTime", r.Value)
	}
}

// offsetOrder checks that offsets of each partition strictly increase.
type offsetOrder map[int64]int64

func (o offsetOrder) check(e *env, r broker.Record) {
	e.t.Helper()
	if last, ok := o[r.Partition]; ok && r.Offset <= last {
		e.t.Errorf("partition %d: record %q at offset %d came after offset %d", r.Partition, r.Value, r.Offset, last)
	}
	o[r.Partition] = r.Offset
}

func (l *logSuite) side() *side {
	return &side{
		opts:     l.opts,
		typed:    l.h.Features.TypedAttributes,
		maxSize:  l.h.Features.MaxMessageSize,
		newTopic: func(e *env) string { return l.topic(e, 1) },
		pub:      l.publisher,
		reader: func(e *env, topic string) func(context.Context) (delivery, error) {
			c := l.join(e, topic, uniqueName("group"), GroupOptions{})
			return func(ctx context.Context) (delivery, error) {
				r, err := c.NextRecord(ctx)
				if err != nil {
					return delivery{}, err
				}
				l.checkFields(e, r, topic)
				return delivery{key: r.Key, data: r.Value, attrs: r.Attributes, ack: r.Ack}, nil
			}
		},
	}
}

func (l *logSuite) run(r *runner) {
	f := l.h.Features
	run := r.run

	run("RecordsOfEachPartitionArriveInOffsetOrder", func(e *env) {
		topic := l.topic(e, l.partitions())
		const n, keys = 100, 10
		l.publish(e, topic, n, func(i int) string { return fmt.Sprint("k", i%keys) })
		c := l.join(e, topic, uniqueName("group"), GroupOptions{})
		recs := l.read(e, c, topic, n) // checks offset order
		partitionOf := map[string]int64{}
		lastOf := map[string]int{}
		for _, r := range recs {
			if p, ok := partitionOf[r.Key]; ok && p != r.Partition {
				e.t.Errorf("key %q in partitions %d and %d; records with one key must share a partition", r.Key, p, r.Partition)
			}
			partitionOf[r.Key] = r.Partition
			var i int
			fmt.Sscanf(string(r.Value), "r%d", &i)
			if last, ok := lastOf[r.Key]; ok && i <= last {
				e.t.Errorf("key %q: record r%d came after r%d; one key's records must keep publishing order", r.Key, i, last)
			}
			lastOf[r.Key] = i
			if int(r.Partition) >= l.partitions() {
				e.t.Errorf("record %q in partition %d of a %d-partition topic", r.Value, r.Partition, l.partitions())
			}
		}
		recs[len(recs)-1].Ack()
	})

	run("CommitIsCumulativeAndResumesAfterRestart", func(e *env) {
		topic, group := l.topic(e, l.partitions()), uniqueName("group")
		const n = 40
		l.publish(e, topic, n, manyKeys)
		c := l.join(e, topic, group, GroupOptions{})
		byPartition := map[int64][]broker.Record{}
		for _, r := range l.read(e, c, topic, n) {
			byPartition[r.Partition] = append(byPartition[r.Partition], r)
		}
		// Ack only the middle record of each partition: that commits it and
		// every earlier one; the rest must be replayed in order.
		want := map[int64][]string{}
		total := 0
		for p, recs := range byPartition {
			k := len(recs)/2 - 1
			if k >= 0 {
				recs[k].Ack()
			}
			for _, r := range recs[k+1:] {
				want[p] = append(want[p], string(r.Value))
			}
			total += len(recs) - (k + 1)
		}
		e.must(c.Close(), "Close")
		c2 := l.join(e, topic, group, GroupOptions{})
		got := map[int64][]string{}
		for _, r := range l.read(e, c2, topic, total) {
			got[r.Partition] = append(got[r.Partition], string(r.Value))
		}
		for p := range byPartition {
			if fmt.Sprint(got[p]) != fmt.Sprint(want[p]) {
				e.t.Errorf("partition %d after restart: got %v, want %v (everything after the committed record, in order)", p, got[p], want[p])
			}
		}
		if r, ok := nextWithin(e, c2.NextRecord, l.opts.Absence); ok {
			e.t.Errorf("record %q (partition %d offset %d) replayed beyond what was uncommitted", r.Value, r.Partition, r.Offset)
		}
	})

	run("CommittedPositionNeverMovesBackwards", func(e *env) {
		topic, group := l.topic(e, 1), uniqueName("group")
		const n = 10
		l.publish(e, topic, n, oneKey)
		c := l.join(e, topic, group, GroupOptions{})
		recs := l.read(e, c, topic, n)
		recs[6].Ack()
		recs[2].Ack() // covered by the commit of 6: must not rewind it
		e.must(c.Close(), "Close")
		c2 := l.join(e, topic, group, GroupOptions{})
		r := next(e, c2.NextRecord, "the first uncommitted record")
		if r.Offset != recs[7].Offset {
			e.t.Errorf("after acking offsets %d then %d, resumed at %q offset %d, want %q offset %d", recs[6].Offset, recs[2].Offset, r.Value, r.Offset, recs[7].Value, recs[7].Offset)
		}
	})

	run("ConcurrentAcksLeaveTheHighestCommitted", func(e *env) {
		topic, group := l.topic(e, 1), uniqueName("group")
		const n = 20
		l.publish(e, topic, n, oneKey)
		c := l.join(e, topic, group, GroupOptions{})
		recs := l.read(e, c, topic, n)
		// Every record acked twice at once, in no order: the commit must
		// end at the last record whatever order the acks land in.
		var wg sync.WaitGroup
		for _, r := range recs {
			wg.Go(func() { r.Ack() })
			wg.Go(func() {
				if err := r.AckContext(e.ctx); err != nil && !errors.Is(err, broker.ErrAlreadySettled) {
					e.t.Errorf("AckContext racing with Ack: got %v, want nil or broker.ErrAlreadySettled", err)
				}
			})
		}
		wg.Wait()
		e.must(c.Close(), "Close")
		c2 := l.join(e, topic, group, GroupOptions{})
		if r, ok := nextWithin(e, c2.NextRecord, l.opts.Absence); ok {
			e.t.Errorf("record %q at offset %d replayed after every record was acked", r.Value, r.Offset)
		}
	})

	run("RecordSettlementIsOnceOnly", func(e *env) {
		topic := l.topic(e, 1)
		l.publish(e, topic, 1, oneKey)
		c := l.join(e, topic, uniqueName("group"), GroupOptions{})
		r := next(e, c.NextRecord, "the published record")
		copied := r
		r.Ack()
		r.Ack()
		if err := copied.AckContext(e.ctx); !errors.Is(err, broker.ErrAlreadySettled) {
			e.t.Errorf("AckContext on a copy of an acked record: got %v, want an error matching broker.ErrAlreadySettled", err)
		}
		if !r.Settled() || !copied.Settled() {
			e.t.Errorf("Settled() after Ack: got %v (copy %v), want true", r.Settled(), copied.Settled())
		}
	})

	run("NewGroupReadsEveryRecordFromTheStart", func(e *env) {
		topic, group := l.topic(e, 1), uniqueName("group")
		const n = 10
		l.publish(e, topic, n, oneKey)
		c := l.join(e, topic, group, GroupOptions{})
		first := l.read(e, c, topic, n)
		e.must(first[n-1].AckContext(e.ctx), "AckContext of the last record")
		// The first group's commit does not move another group.
		other := l.join(e, topic, uniqueName("group"), GroupOptions{})
		for i, r := range l.read(e, other, topic, n) {
			if r.Offset != first[i].Offset || string(r.Value) != string(first[i].Value) {
				e.t.Errorf("new group's record %d: %q at offset %d, want %q at offset %d", i, r.Value, r.Offset, first[i].Value, first[i].Offset)
			}
		}
		e.must(c.Close(), "Close")
		again := l.join(e, topic, group, GroupOptions{})
		if r, ok := nextWithin(e, again.NextRecord, l.opts.Absence); ok {
			e.t.Errorf("reopened group replayed %q at offset %d after committing everything", r.Value, r.Offset)
		}
	})

	run("RebalanceLosesNothingAndReplaysNothingCommitted", func(e *env) {
		if !f.Rebalance {
			e.t.Skip("requires LogFeatures.Rebalance")
		}
		l.rebalance(e)
	})

	run("RevokedPartitionsAreReportedAndRefuseAcks", func(e *env) {
		if !f.Rebalance {
			e.t.Skip("requires LogFeatures.Rebalance")
		}
		if l.partitions() < 2 {
			// The only partition may stay with the first consumer, and
			// then nothing is ever revoked: the test would wait until it
			// timed out.
			e.t.Skip("requires LogFeatures.MaxPartitions of 0 or at least 2")
		}
		l.revocation(e)
	})

	run("NextRecordReturnsPromptlyWhenItsContextEnds", func(e *env) {
		topic := l.topic(e, 1)
		c := l.join(e, topic, uniqueName("group"), GroupOptions{})
		checkPromptCancel(e, c.NextRecord)
		if b, ok := c.(broker.BatchedIterator); ok && f.BatchedIterator {
			checkPromptCancel(e, b.NextBatch)
		}
		l.publish(e, topic, 1, oneKey)
		r := next(e, c.NextRecord, "a record published after the canceled calls")
		r.Ack()
	})

	run("CanceledNextRecordSkipsNothing", func(e *env) {
		topic := l.topic(e, 1)
		c := l.join(e, topic, uniqueName("group"), GroupOptions{})
		const n = 50
		published := make(chan struct{})
		go func() {
			defer close(published)
			l.publishSlowly(e, topic, n)
		}()
		defer func() { <-published }()
		var batch func(context.Context) ([]broker.Record, error)
		if b, ok := c.(broker.BatchedIterator); ok && f.BatchedIterator {
			batch = b.NextBatch
		}
		nextOf := oneOrBatch(c.NextRecord, batch)
		order := offsetOrder{}
		for i, got := 0, 0; got < n; i++ {
			ctx, cancel := context.WithTimeout(e.ctx, shortTimeout(i))
			recs, err := nextOf(ctx, i)
			cancel()
			switch {
			case err == nil:
				for _, r := range recs {
					order.check(e, r)
					if want := fmt.Sprint("r", got); string(r.Value) != want {
						e.t.Fatalf("got record %q, want %q: a canceled call skipped or repeated a record", r.Value, want)
					}
					got++
					r.Ack()
				}
			case e.ctx.Err() != nil:
				e.t.Fatalf("timed out with %d of %d records received: skipped by canceled calls?", got, n)
			case !errors.Is(err, context.DeadlineExceeded):
				e.t.Fatalf("NextRecord or NextBatch with a short deadline: got %v, want an error matching context.DeadlineExceeded", err)
			}
		}
	})

	run("CloseIsIdempotentAndEndsTheConsumer", func(e *env) {
		c := l.join(e, l.topic(e, 1), uniqueName("group"), GroupOptions{})
		e.must(c.Close(), "Close")
		e.must(c.Close(), "second Close")
		if _, err := c.NextRecord(e.ctx); !errors.Is(err, broker.ErrClosed) {
			e.t.Errorf("NextRecord after Close: got %v, want an error matching broker.ErrClosed", err)
		}
		if b, ok := c.(broker.BatchedIterator); ok && f.BatchedIterator {
			if _, err := b.NextBatch(e.ctx); !errors.Is(err, broker.ErrClosed) {
				e.t.Errorf("NextBatch after Close: got %v, want an error matching broker.ErrClosed", err)
			}
		}
	})

	run("CloseUnblocksAPendingNextRecord", func(e *env) {
		c := l.join(e, l.topic(e, 1), uniqueName("group"), GroupOptions{})
		checkCloseUnblocks(e, c.NextRecord, c.Close)
	})

	run("BatchesAreNeverEmptyNorOverMaxBatch", func(e *env) {
		if !f.BatchedIterator {
			e.t.Skip("requires LogFeatures.BatchedIterator")
		}
		const n, maxBatch = 30, 7
		topic, group := l.topic(e, l.partitions()), uniqueName("group")
		l.publish(e, topic, n, manyKeys)
		c := l.join(e, topic, group, GroupOptions{MaxBatch: maxBatch})
		b, ok := c.(broker.BatchedIterator)
		if !ok {
			e.t.Fatalf("%T does not implement broker.BatchedIterator", c)
		}
		order := offsetOrder{}
		for got := 0; got < n; {
			batch := next(e, b.NextBatch, "a batch")
			if len(batch) == 0 || len(batch) > maxBatch {
				e.t.Errorf("NextBatch returned %d records, want 1 to %d", len(batch), maxBatch)
			}
			// Acking the last record of each partition in the batch commits the batch.
			last := map[int64]int{}
			for i, r := range batch {
				l.checkFields(e, r, topic)
				order.check(e, r)
				last[r.Partition] = i
			}
			for _, i := range last {
				batch[i].Ack()
			}
			got += len(batch)
		}
		e.must(c.Close(), "Close")
		again := l.join(e, topic, group, GroupOptions{MaxBatch: maxBatch})
		if batch, ok := nextWithin(e, again.(broker.BatchedIterator).NextBatch, l.opts.Absence); ok {
			e.t.Errorf("NextBatch after every batch was committed returned %d records and no error", len(batch))
		}
	})
}

// rebalance runs two consumers of one group over a multi-partition topic,
// closes one midway, and checks that every record was processed at least
// once and that no record whose commit was confirmed is read again, by the
// consumer taking over midway or by one joining afterwards.
func (l *logSuite) rebalance(e *env) {
	topic, group := l.topic(e, l.partitions()), uniqueName("group")
	c1 := l.join(e, topic, group, GroupOptions{})
	c2 := l.join(e, topic, group, GroupOptions{})
	const n, c1Quota = 200, 30

	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	var mu sync.Mutex
	processed := map[string]bool{}
	// committed is, per partition, one past the highest offset whose
	// AckContext returned nil: the group must never read below it again.
	committed := map[int64]int64{}
	counts := [2]int{}
	consume := func(i int, c LogConsumer, quota int) {
		for done := 0; quota == 0 || done < quota; done++ {
			r, err := c.NextRecord(ctx)
			if err != nil {
				if ctx.Err() == nil {
					e.t.Errorf("consumer %d: NextRecord: %v", i+1, err)
				}
				return
			}
			mu.Lock()
			if r.Offset < committed[r.Partition] {
				// The new owner of a partition starts after its confirmed
				// commit; an earlier record here was handed over stale.
				e.t.Errorf("consumer %d read %q at partition %d offset %d, though offset %d of its partition was committed before", i+1, r.Value, r.Partition, r.Offset, committed[r.Partition]-1)
			}
			mu.Unlock()
			// Records are processed one at a time, so acking each commits
			// a contiguous prefix of its partition.
			err = r.AckContext(ctx)
			mu.Lock()
			counts[i]++
			processed[string(r.Value)] = true
			switch {
			case err == nil:
				committed[r.Partition] = max(committed[r.Partition], r.Offset+1)
			case errors.Is(err, broker.ErrPartitionRevoked) || ctx.Err() != nil:
				// Not committed: the partition's new owner replays it.
			default:
				e.t.Errorf("consumer %d: AckContext: %v", i+1, err)
			}
			if len(processed) == n {
				cancel()
			}
			mu.Unlock()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		consume(0, c1, c1Quota)
		// Leaving the group midway hands c1's partitions to c2.
		if err := c1.Close(); err != nil {
			e.t.Errorf("closing consumer 1 midway: %v", err)
		}
	})
	wg.Go(func() { consume(1, c2, 0) })
	l.publish(e, topic, n, manyKeys)
	wg.Wait()
	if len(processed) < n {
		e.t.Fatalf("only %d of %d records processed before the test timed out: records lost in the rebalance?", len(processed), n)
	}
	e.t.Logf("records processed per consumer: %v", counts)
	e.must(c2.Close(), "Close")

	c3 := l.join(e, topic, group, GroupOptions{})
	for {
		r, ok := nextWithin(e, c3.NextRecord, l.opts.Absence)
		if !ok {
			break
		}
		if r.Offset < committed[r.Partition] {
			e.t.Errorf("record %q at partition %d offset %d seen again, though offset %d of its partition was committed", r.Value, r.Partition, r.Offset, committed[r.Partition]-1)
		}
		r.Ack()
	}
}

// revocation has a consumer read every record of a topic without acking,
// lets a second consumer join its group, and checks that the first hears of
// the partitions it lost, that acks of their records are refused with
// broker.ErrPartitionRevoked (the new owner replays them), and that the new
// owner reads them from the start.
func (l *logSuite) revocation(e *env) {
	topic, group := l.topic(e, l.partitions()), uniqueName("group")
	const n = 40
	l.publish(e, topic, n, manyKeys)
	c1 := l.join(e, topic, group, GroupOptions{})
	notifier, ok := c1.(broker.RevocationNotifier)
	if !ok {
		e.t.Skipf("requires the consumer (%T) to implement broker.RevocationNotifier", c1)
	}
	recs := l.read(e, c1, topic, n)
	var mu sync.Mutex
	revoked := map[int64]bool{}
	unregister := notifier.OnRevoke(func(tps []broker.TopicPartition) {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range tps {
			if tp.Topic == topic {
				revoked[tp.Partition] = true
			}
		}
	})
	defer unregister()
	c2 := l.join(e, topic, group, GroupOptions{})
	// Backends that rebalance in the background may need c1 to poll before
	// it learns of the revocation; it has nothing left to read.
	for {
		mu.Lock()
		k := len(revoked)
		mu.Unlock()
		if k > 0 {
			break
		}
		if r, ok := nextWithin(e, c1.NextRecord, 50*time.Millisecond); ok {
			e.t.Errorf("consumer 1 read record %q at partition %d offset %d again before any revocation", r.Value, r.Partition, r.Offset)
		}
	}
	mu.Lock()
	lost := maps.Clone(revoked)
	mu.Unlock()
	e.t.Logf("partitions revoked from the first consumer: %v", slices.Sorted(maps.Keys(lost)))
	want := 0
	for _, r := range recs {
		if !lost[r.Partition] {
			continue
		}
		want++
		if err := r.AckContext(e.ctx); !errors.Is(err, broker.ErrPartitionRevoked) {
			e.t.Errorf("ack of record %q of revoked partition %d: got %v, want an error matching broker.ErrPartitionRevoked", r.Value, r.Partition, err)
		}
	}
	// Nothing of the lost partitions was committed: the new owner reads
	// them whole.
	got := 0
	for got < want {
		r := next(e, c2.NextRecord, fmt.Sprintf("record %d of %d of the revoked partitions", got+1, want))
		if !lost[r.Partition] {
			continue // a partition revoked later, after this test looked
		}
		got++
	}
}

// publishSlowly publishes n records to one key from its own goroutine, so
// that they arrive while the consumer's calls are being canceled.
func (l *logSuite) publishSlowly(e *env, topic string, n int) {
	p, err := l.h.Publisher(e.ctx, e.t)
	if err != nil {
		e.t.Errorf("Publisher: %v", err)
		return
	}
	if c, ok := p.(interface{ Close() error }); ok {
		defer c.Close()
	}
	tp, err := p.Topic(topic)
	if err != nil {
		e.t.Errorf("Topic: %v", err)
		return
	}
	for i := range n {
		if err := tp.Publish(e.ctx, broker.OutboundMessage{Key: "k", Data: fmt.Appendf(nil, "r%d", i)}); err != nil {
			e.t.Errorf("Publish: %v", err)
			return
		}
		pause(i)
	}
}
