package pulsartest

import (
	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// topic is one non-partitioned topic or one partition. Its entries live in
// memory for the server's lifetime (no retention limits). Each topic has a
// single ledger, so a message id is (ledger, entry index[, batch index]).
type topic struct {
	name      string
	ledger    uint64
	partition int32 // -1 for a non-partitioned topic
	entries   []*entry
	subs      map[string]*subscription
	producers map[*producer]struct{}
	// delayed is set once an entry asks for delayed delivery, so that the
	// server's timer re-dispatches this topic.
	delayed bool
	// stored remembers, per producer name, the entry stored for each SEND
	// sequence id, and lastSeq the highest sequence id seen. A producer that
	// reconnects resends the SENDs it had no receipt for, unchanged; those
	// duplicates are acknowledged again instead of being stored twice (what
	// Pulsar calls deduplication). Exact ids are compared, not a high-water
	// mark, because the key-based batcher sends sequence ids out of order;
	// the chunk id is part of the key, as every chunk of a message carries
	// the message's sequence id.
	stored  map[string]map[sendKey]uint64
	lastSeq map[string]uint64
}

type sendKey struct {
	seq   uint64
	chunk int32
}

// entry is what one SEND stored: a single message or a batch of them.
type entry struct {
	// data is the payload part of the SEND frame exactly as received (magic,
	// checksum, metadata, body), replayed verbatim in MESSAGE frames.
	data        []byte
	numMsgs     int // messages in the entry (1 unless batched)
	batched     bool
	publishTime uint64 // ms since the epoch, from the producer
	deliverAt   int64  // ms since the epoch; 0 = at once
	key         string // ordering key, else partition key, of the entry
}

func newTopic(name string, ledger uint64, partition int32) *topic {
	return &topic{
		name:      name,
		ledger:    ledger,
		partition: partition,
		subs:      make(map[string]*subscription),
		producers: make(map[*producer]struct{}),
		stored:    make(map[string]map[sendKey]uint64),
		lastSeq:   make(map[string]uint64),
	}
}

// newEntry describes an entry from its metadata. A batch is recognised by the
// presence of num_messages_in_batch, as clients do.
func newEntry(data []byte, meta *wire.MessageMetadata) *entry {
	e := &entry{data: data, numMsgs: 1, publishTime: meta.GetPublishTime(), deliverAt: meta.GetDeliverAtTime()}
	if meta.NumMessagesInBatch != nil {
		e.batched = true
		if n := int(meta.GetNumMessagesInBatch()); n > 1 {
			e.numMsgs = n
		}
	}
	if k := meta.GetOrderingKey(); len(k) > 0 {
		e.key = string(k)
	} else {
		e.key = meta.GetPartitionKey()
	}
	return e
}

// append stores an entry and hands it to the subscriptions.
func (t *topic) append(e *entry) uint64 {
	id := uint64(len(t.entries))
	t.entries = append(t.entries, e)
	if e.deliverAt > 0 {
		t.delayed = true
	}
	for _, sub := range t.subs {
		sub.dispatch()
	}
	return id
}

func (t *topic) messageCount() int {
	n := 0
	for _, e := range t.entries {
		n += e.numMsgs
	}
	return n
}

// messageID builds the wire id of an entry of this topic.
func (t *topic) messageID(entryID uint64) *wire.MessageIdData {
	id := &wire.MessageIdData{LedgerId: &t.ledger, EntryId: &entryID}
	if t.partition >= 0 {
		p := t.partition
		id.Partition = &p
	}
	return id
}

// lastMessageID is the id of the last message of the topic; for a batch it
// names the batch's last index, which Reader.HasNext relies on. An empty topic
// answers entry -1, which clients read as "no message".
func (t *topic) lastMessageID() *wire.MessageIdData {
	if len(t.entries) == 0 {
		id := t.messageID(^uint64(0))
		return id
	}
	last := uint64(len(t.entries) - 1)
	id := t.messageID(last)
	if e := t.entries[last]; e.batched {
		bi := int32(e.numMsgs - 1)
		id.BatchIndex = &bi
		bs := int32(e.numMsgs)
		id.BatchSize = &bs
	}
	return id
}
