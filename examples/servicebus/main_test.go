package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestExampleSettlesEachWay runs the example and checks its story: every
// order handled, the nacked one redelivered with delivery count 2, the
// rejected one read back from the dead-letter queue with its reason.
func TestExampleSettlesEachWay(t *testing.T) {
	defer goleak.VerifyNone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"published 4 orders",
		"ack    book x1 (delivery 1)",
		"nack   lamp (delivery 1)",
		"ack    lamp x2 (delivery 2)",
		"reject broken-widget",
		"ack    pen x4 (delivery 1)",
		"dead-lettered: broken-widget (cannot be shipped)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
