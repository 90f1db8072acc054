package sbtest_test

import (
	"errors"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestUpdateQueueChangesLockDurationAndMaxDeliveryCount(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	if err := srv.UpdateQueue("q", &sbtest.QueueOptions{LockDuration: 200 * time.Millisecond, MaxDeliveryCount: 1}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	c := newClient(t, srv)
	if err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	m := receiveOne(t, ctx, r)
	if until := time.Until(*m.LockedUntil); until > time.Second {
		t.Fatalf("locked for %v more, want the updated 200 ms", until)
	}
	// One delivery allowed: the expired lock dead-letters the message.
	waitFor(t, "the message to be dead-lettered", 5*time.Second, func() bool {
		dead, _ := srv.DeadLetters("q")
		return len(dead) == 1
	})
	for _, path := range []string{"nope", "q/$DeadLetterQueue"} {
		if err := srv.UpdateQueue(path, &sbtest.QueueOptions{}); !errors.Is(err, sbtest.ErrNotFound) {
			t.Errorf("UpdateQueue(%q): %v, want ErrNotFound", path, err)
		}
	}
}
