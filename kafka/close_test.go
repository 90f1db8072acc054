package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/kafka"
)

// closeBound is how long Close may take when the cluster is gone: its
// final commit or ack flush is bounded by DefaultCloseTimeout, and leaving
// the group must not wait for an answer that cannot come. A hang guard,
// not a speed check.
const closeBound = kafka.DefaultCloseTimeout + 20*time.Second

// closeWithin runs close and fails the test if it does not return within
// closeBound.
func closeWithin(t *testing.T, close func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(closeBound):
		t.Fatalf("Close did not return within %v of the cluster going down", closeBound)
		return nil
	}
}

func TestLogCloseWithTheClusterDownReturnsAndReportsTheUncommittedAck(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 3, "v")
	c, err := kafka.JoinGroup(testCtx(t), tc.cfg, unique("g"), []string{topic}, kafka.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.NextRecord(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	tc.fake.Close()
	r.Ack() // cannot be committed any more
	err = closeWithin(t, c.Close)
	if err == nil {
		t.Fatal("Close returned nil though the acked offset could not be committed")
	}
	if _, err := c.NextRecord(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("NextRecord after Close: %v, want ErrClosed", err)
	}
}

func TestShareCloseWithTheClusterDownReturns(t *testing.T) {
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 3, "v")
	c, err := kafka.JoinShareGroup(testCtx(t), tc.cfg, unique("sg"), []string{topic}, kafka.QueueOptions{StartOffset: kafka.StartEarliest})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.NextMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	tc.fake.Close()
	m.Ack()
	_ = closeWithin(t, c.Close)
	if _, err := c.NextMessage(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("NextMessage after Close: %v, want ErrClosed", err)
	}
}

// A commit the broker never answers must not hold Close beyond its bound:
// the committer's commit in flight when Close starts is given up once
// DefaultCloseTimeout passed, like Close's own final commit.
func TestLogCloseWithACommitUnansweredReturns(t *testing.T) {
	t.Parallel() // waits out DefaultCloseTimeout: alongside the others
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 3, "v")
	c, err := kafka.JoinGroup(testCtx(t), tc.cfg, unique("g"), []string{topic}, kafka.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.NextRecord(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{}, 1)
	tc.fake.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		tc.fake.KeepControl()
		select {
		case seen <- struct{}{}:
		default:
		}
		return nil, nil, true // no answer, ever
	})
	r.Ack()
	select {
	case <-seen:
	case <-testCtx(t).Done():
		t.Fatal("the ack was never committed")
	}
	if err := closeWithin(t, c.Close); err == nil {
		t.Fatal("Close returned nil though the acked offset was never committed")
	}
}

// silence makes the cluster leave every request with one of keys
// unanswered from now on.
func silence(tc *testCluster, keys ...kmsg.Key) {
	for _, k := range keys {
		tc.fake.ControlKey(int16(k), func(kmsg.Request) (kmsg.Response, error, bool) {
			tc.fake.KeepControl()
			return nil, nil, true
		})
	}
}

func TestLogCloseWithLeaveGroupUnansweredReturns(t *testing.T) {
	t.Parallel() // waits out DefaultCloseTimeout: alongside the others
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 3, "v")
	c, err := kafka.JoinGroup(testCtx(t), tc.cfg, unique("g"), []string{topic}, kafka.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.NextRecord(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.AckContext(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	silence(tc, kmsg.LeaveGroup, kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.ConsumerGroupHeartbeat)
	if err := closeWithin(t, c.Close); err != nil {
		t.Fatalf("Close: %v (every ack was committed)", err)
	}
}

func TestShareCloseWithTheClusterSilentReturns(t *testing.T) {
	t.Parallel() // waits out DefaultCloseTimeout: alongside the others
	tc := startFake(t)
	topic := tc.topic(t, 1, nil)
	publishN(t, tc.publisher(t), topic, 3, "v")
	c, err := kafka.JoinShareGroup(testCtx(t), tc.cfg, unique("sg"), []string{topic}, kafka.QueueOptions{StartOffset: kafka.StartEarliest})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.NextMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	silence(tc, kmsg.ShareFetch, kmsg.ShareAcknowledge, kmsg.ShareGroupHeartbeat)
	m.Ack()
	_ = closeWithin(t, c.Close)
}
