package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestKafkaExampleShowsBothLoops runs the example and checks the story it
// tells: the reopened group resumes after its commit, and the nacked order
// comes back on the share group.
func TestKafkaExampleShowsBothLoops(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v; output so far:\n%s", err, out.String())
	}
	for _, want := range []string{
		"published 3 orders",
		"record order-1 (alice, amount 10) at offset 0",
		"record order-2 (bob, amount 20) at offset 1",
		"reopened group resumes with order-3",
		"nack order-2 (delivery 1)",
		"ack  order-2 (delivery 2)",
		"ack  order-3 (delivery 1)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
