package pulsar

import (
	"fmt"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// The packing of offsets: see Offset.
const (
	offsetBatchBits = 12
	offsetEntryBits = 20
	maxLedgerID     = 1<<31 - 1
)

// Offset returns the offset of id, or an error wrapping
// broker.ErrUnsupported if id does not fit the packing. Offsets pack a
// message id's position within its partition into an int64:
//
//	offset = ledgerID<<32 | entryID<<12 | batchIndex
//
// Within one partition Pulsar's message ids grow by ledger, then entry,
// then batch index, so offsets grow in the same order (they are not
// contiguous: gaps between entries and ledgers are normal). The packing
// holds for ledger ids below 2^31, entry ids below 2^20 (1,048,576) per
// ledger and batch indexes below 4096. Mind the entry limit on busy
// partitions: a ledger rolls over after managedLedgerMaxEntriesPerLedger
// (50,000) entries only once it is managedLedgerMinLedgerRolloverTimeMinutes
// (10) old, so a partition written at more than about 1,750 entries (batches
// or unbatched messages) per second passes 2^20 entries in one ledger with
// the broker's defaults; lower the minimum rollover time there. Batch
// indexes stay below 1000 with the clients' default BatchingMaxMessages.
// A record whose id does not fit stops its LogConsumer: NextRecord and
// NextBatch return an error wrapping broker.ErrUnsupported from then on,
// rather than hand out later records whose commits would cover it. The
// next consumer of the subscription stops at the same record, so the
// subscription needs its cursor moved past it (pulsar-admin topics
// reset-cursor).
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
