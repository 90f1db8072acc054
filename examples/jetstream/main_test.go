package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestExampleShowsQueueAndLogOnJetStream runs the example against its
// embedded server and checks the story it tells.
func TestExampleShowsQueueAndLogOnJetStream(t *testing.T) {
	t.Setenv("NATS_URL", "") // always the embedded server here
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"batch refused, nothing sent: failed=[0 1] (invalid attribute: true)",
		"published 4 orders",
		"nack   order-2 (delivery 1), retry in 100ms",
		"ack    order-2 for bob (delivery 2)",
		"reject order-3: amount 30 is poison",
		"dead letter: order-3 (amount too high)",
		"offset 4: order-4",
		"rejoined group resumes at offset 3: order-3",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
