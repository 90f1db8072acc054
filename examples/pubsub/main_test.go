package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPubSubExampleTellsItsStory runs the example against pstest and checks
// what it reports: per-customer order kept, the nacked order back, the
// poison one on the dead-letter topic with its key and attributes.
func TestPubSubExampleTellsItsStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"published 6 orders",
		"nack   order-2 (will come back)",
		"reject order-4 POISON",
		"alice: order-1, order-3, order-6",
		"bob: order-2, order-5",
		"dead letter: order-4 POISON (key carol, qty 4)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
