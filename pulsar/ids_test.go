package pulsar

import (
	"testing"

	"github.com/pullkit/broker"
)

// The IDs NextBatch builds in one string are each message's own.
func TestIDArenaGivesEachMessageItsID(t *testing.T) {
	ids := []fakeID{{1, 2, 0, 0}, {1, 2, 1, 0}, {12345678901, 1 << 40, 999, 7}, {3, 4, -1, -1}}
	var a idArena
	batch := make([]broker.Message, len(ids))
	for _, id := range ids {
		a.add(id)
	}
	a.assign(batch)
	for i, id := range ids {
		if want := messageIDString(id); batch[i].ID != want {
			t.Errorf("message %d: ID %q, want %q", i, batch[i].ID, want)
		}
	}
	if want := "1:2:1:0"; batch[1].ID != want {
		t.Errorf("ID %q, want %q", batch[1].ID, want)
	}
}
