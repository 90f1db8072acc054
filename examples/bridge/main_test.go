package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestBridgeForwardsEveryOrderInKeyOrder runs the example: every order
// published to Pub/Sub reaches Kafka once, each customer's in order.
func TestBridgeForwardsEveryOrderInKeyOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"published 6 orders to Pub/Sub",
		"bridge forwarded 6 messages",
		"kafka alice [order-1 order-3 order-6]",
		"kafka bob   [order-2 order-5]",
		"kafka carol [order-4]",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// OpenCensus's stats worker, started by the Pub/Sub library's package
		// initialisation and never stopped.
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
		// The Pub/Sub library's stream keep-alive loop checks for the end of
		// its Receive only every 10 s, then exits by itself (the pubsub
		// package's tests ignore it for the same reason).
		goleak.IgnoreTopFunction("cloud.google.com/go/pubsub/v2.(*messageIterator).streamKeepAliveHandler"),
	)
}
