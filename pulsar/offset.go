package pulsar

import (
	"fmt"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// Offsets pack a message id's position within its partition into an int64:
//
//	offset = ledgerID<<32 | entryID<<12 | batchIndex
//
// Within one partition Pulsar's message ids grow by ledger, then entry,
// then batch index, so offsets grow in the same order (they are not
// contiguous: gaps between entries and ledgers are normal). The packing
// holds for ledger ids below 2^31, entry ids below 2^20 per ledger (a
// ledger rolls over after 50,000 entries by default) and batch indexes below
// 4096 (1000 messages per batch by default). A record whose id does not fit
// stops its LogConsumer: NextRecord and NextBatch return an error wrapping
// broker.ErrUnsupported from then on, rather than hand out later records
// whose commits would cover it.
const (
	offsetBatchBits = 12
	offsetEntryBits = 20
	maxLedgerID     = 1<<31 - 1
)

// Offset returns the offset of id, or an error wrapping
// broker.ErrUnsupported if id does not fit the packing.
func Offset(id pc.MessageID) (int64, error) {
	ledger, entry, batch := id.LedgerID(), id.EntryID(), int64(id.BatchIdx())
	if batch < 0 {
		batch = 0
	}
	if ledger < 0 || ledger > maxLedgerID || entry < 0 || entry >= 1<<offsetEntryBits || batch >= 1<<offsetBatchBits {
		return 0, fmt.Errorf("%w: message id %d:%d:%d does not fit an int64 offset", broker.ErrUnsupported, ledger, entry, batch)
	}
	return ledger<<(offsetEntryBits+offsetBatchBits) | entry<<offsetBatchBits | batch, nil
}
