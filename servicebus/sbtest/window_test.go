package sbtest_test

import (
	"fmt"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

// More deliveries than the client's session incoming window (5000 frames):
// the server must follow the session flows the client sends as it consumes
// its window (Part 2 §2.5.6) instead of stalling when its first window is
// used up.
func TestManyMessagesCrossTheSessionWindow(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "bulk", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "bulk")
	const n = 6000
	for sent := 0; sent < n; {
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for ; sent < n; sent++ {
			err := batch.AddMessage(&azservicebus.Message{Body: []byte(fmt.Sprint(sent))}, nil)
			if err != nil {
				break // batch full
			}
		}
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := mustReceiver(t, c, "bulk", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	got := 0
	for got < n {
		msgs, err := r.ReceiveMessages(ctx, 1000, nil)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		for _, m := range msgs {
			if string(m.Body) != fmt.Sprint(got) {
				t.Fatalf("message %d is %q", got, m.Body)
			}
			got++
		}
	}
}
