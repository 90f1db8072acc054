package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestExampleShowsQueueAndLogOnPulsar runs the example on pulsartest (or
// PULSAR_URL) and checks the story it tells: the invalid batch sends
// nothing, the nacked order comes back, the rejected one reaches the
// dead-letter topic, and the reopened group resumes after its commit.
func TestExampleShowsQueueAndLogOnPulsar(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"batch refused, nothing sent: failed=[0 1] (true)",
		"nack   order-2 (delivery 1, priority 1)",
		"ack    order-2 (delivery 2)",
		"reject garbage",
		"dead letter: garbage (not an order)",
		"reopened group resumes with order-4",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "record "); n != 3 {
		t.Errorf("the log read %d records, want 3:\n%s", n, out.String())
	}
}
