package sbtest_test

import (
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

func TestReleasedMessagesReturnWithoutCountingADelivery(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("first")}, nil); err != nil {
		t.Fatal(err)
	}
	r := mustReceiver(t, c, "q", nil)
	// Ask for five, get one: four credits stay on the link.
	msgs, err := r.ReceiveMessages(ctx, 5, nil)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("ReceiveMessages: %d, %v", len(msgs), err)
	}
	if err := r.CompleteMessage(ctx, msgs[0], nil); err != nil {
		t.Fatal(err)
	}
	// Messages sent now arrive on the left-over credit while nobody is
	// receiving; the client releases them and the server makes them
	// available again, not counting that delivery.
	for _, b := range []string{"second", "third"} {
		if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both messages to be released", 5*time.Second, func() bool {
		got := messagesIn(t, srv, "q")
		return len(got) == 2 && got[0].State == "active" && got[1].State == "active" &&
			got[0].DeliveryCount == 0 && got[1].DeliveryCount == 0
	})
	var bodies []string
	for len(bodies) < 2 {
		msgs, err := r.ReceiveMessages(ctx, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.DeliveryCount != 1 {
				t.Fatalf("%s has DeliveryCount %d after a release, want 1", m.Body, m.DeliveryCount)
			}
			bodies = append(bodies, string(m.Body))
			if err := r.CompleteMessage(ctx, m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if bodies[0] != "second" || bodies[1] != "third" {
		t.Fatalf("received %q", bodies)
	}
}

func TestClosingAReceiverReleasesItsUnsettledMessages(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil) // 60 s locks: only the close can free them in time
	ctx := testCtx(t)
	c := newClient(t, srv)
	s := mustSender(t, c, "q")
	for _, b := range []string{"a", "b", "c"} {
		if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte(b)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := mustReceiver(t, c, "q", nil)
	msgs, err := r.ReceiveMessages(ctx, 3, nil)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("ReceiveMessages: %d, %v", len(msgs), err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	got := messagesIn(t, srv, "q")
	if len(got) != 3 {
		t.Fatalf("%d messages after the close, want 3", len(got))
	}
	for _, m := range got {
		if m.State != "active" || m.DeliveryCount != 0 {
			t.Errorf("%s: state %s, delivery count %d after its receiver closed; want active, 0", m.Body, m.State, m.DeliveryCount)
		}
	}
}
