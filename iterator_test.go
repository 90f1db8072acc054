package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/pullkit/broker"
)

// sliceIterator hands out n messages, then returns end.
type sliceIterator struct {
	n, i int
	end  error
}

func (s *sliceIterator) NextMessage(ctx context.Context) (broker.Message, error) {
	if err := ctx.Err(); err != nil {
		return broker.Message{}, err
	}
	if s.i == s.n {
		return broker.Message{}, s.end
	}
	s.i++
	return broker.Message{ID: fmt.Sprint(s.i)}, nil
}

func TestMessagesEndsQuietlyOnErrClosed(t *testing.T) {
	var ids []string
	for m, err := range broker.Messages(context.Background(), &sliceIterator{n: 3, end: broker.ErrClosed}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if fmt.Sprint(ids) != "[1 2 3]" {
		t.Fatalf("ids = %v", ids)
	}
}

func TestMessagesYieldsOtherErrorsOnce(t *testing.T) {
	boom := errors.New("boom")
	var errs []error
	for _, err := range broker.Messages(context.Background(), &sliceIterator{n: 1, end: boom}) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) != 1 || !errors.Is(errs[0], boom) {
		t.Fatalf("errs = %v", errs)
	}
}

func TestMessagesStopsOnBreak(t *testing.T) {
	it := &sliceIterator{n: 10, end: broker.ErrClosed}
	for range broker.Messages(context.Background(), it) {
		break
	}
	if it.i != 1 {
		t.Fatalf("pulled %d messages for one iteration", it.i)
	}
}

func TestMessagesYieldsTheContextError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range broker.Messages(ctx, &sliceIterator{n: 10}) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	}
}
