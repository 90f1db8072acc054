package pulsar

import (
	"errors"
	"testing"

	"github.com/pullkit/broker"
)

// fakeID is a MessageID with given fields.
type fakeID struct {
	ledger, entry int64
	batch, part   int32
}

func (f fakeID) Serialize() []byte   { return nil }
func (f fakeID) LedgerID() int64     { return f.ledger }
func (f fakeID) EntryID() int64      { return f.entry }
func (f fakeID) BatchIdx() int32     { return f.batch }
func (f fakeID) PartitionIdx() int32 { return f.part }
func (f fakeID) BatchSize() int32    { return 0 }
func (f fakeID) String() string      { return "" }

func TestOffsetsGrowWithMessageIDs(t *testing.T) {
	ids := []fakeID{
		{0, 0, -1, 0}, {0, 0, 1, 0}, {0, 0, 4095, 0}, {0, 1, 0, 0}, {0, 1<<20 - 1, 4095, 0},
		{1, 0, -1, 0}, {7, 5, 3, 0}, {1<<31 - 1, 1<<20 - 1, 4095, 0},
	}
	prev := int64(-1)
	for _, id := range ids {
		off, err := Offset(id)
		if err != nil {
			t.Fatalf("Offset(%v): %v", id, err)
		}
		if off <= prev {
			t.Errorf("Offset(%v) = %d, not above the previous %d", id, off, prev)
		}
		prev = off
	}
	if off, _ := Offset(fakeID{2, 3, 4, 0}); off != 2<<32|3<<12|4 {
		t.Errorf("Offset(2:3:4) = %d", off)
	}
	for _, id := range []fakeID{{1 << 31, 0, 0, 0}, {0, 1 << 20, 0, 0}, {0, 0, 4096, 0}, {-1, 0, 0, 0}} {
		if _, err := Offset(id); !errors.Is(err, broker.ErrUnsupported) {
			t.Errorf("Offset(%v): %v, want ErrUnsupported", id, err)
		}
	}
}
