package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuickstartShowsBothSemantics runs the example and checks the story it
// tells: the nacked order comes back, and the reopened group resumes after
// its commit.
func TestQuickstartShowsBothSemantics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"batch refused, nothing sent: failed=[0 1] (true)",
		"nack order-2 (delivery 1)",
		"ack  order-2 (delivery 2)",
		"partition 0 resumes at offset 1",
		"partition 1 resumes at offset 2",
		"reopened group resumes with order-4",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
