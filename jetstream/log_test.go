package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
	"github.com/pullkit/broker/jetstream"
)

func TestLogKeepsOffsetOrderWhenTheServerRedeliversUncommittedRecords(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("order")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "r", 0, 5)
	ctx := testCtx(t)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g", AckWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	var last int64
	read := func(want string) broker.Record {
		t.Helper()
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Value) != want || r.Offset <= last || r.Partition != 0 || r.Topic != subject {
			t.Fatalf("got %q at %s/%d offset %d after offset %d, want %q", r.Value, r.Topic, r.Partition, r.Offset, last, want)
		}
		last = r.Offset
		return r
	}
	for i := range 3 {
		read(fmt.Sprint("r", i))
	}
	// Well past AckWait the server redelivers r0..r2; the consumer must
	// not hand them out again, ahead of r3.
	time.Sleep(600 * time.Millisecond)
	read("r3")
	r4 := read("r4")
	if err := r4.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if r, err := l.NextRecord(short); err == nil {
		t.Errorf("record %q at offset %d handed out again after the commit of offset %d", r.Value, r.Offset, last)
	}
}

func TestRecordsRefuseNackAndExtend(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("nonack")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "r", 0, 1)
	ctx := testCtx(t)
	l, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	b, err := l.NextBatch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := b[0]
	if err := r.Settler.Extend(ctx, time.Second); !errors.Is(err, broker.ErrUnsupported) {
		t.Errorf("Extend on a record: got %v, want broker.ErrUnsupported", err)
	}
	if err := r.AckContext(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.NextRecord(ctx); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("NextRecord after Close: %v", err)
	}
}

func TestRejoiningAGroupAfterACrashReplaysAtOnceInOrder(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("crash")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "r", 0, 6)
	ctx := testCtx(t)
	// A "crashed" consumer: a second connection that reads and commits
	// r1 and then vanishes without closing its consumer.
	crashed := connect(t, shared.URL())
	l, err := crashed.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		r, err := l.NextRecord(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			if err := r.AckContext(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = crashed.Close() // the connection dies; l never closes
	defer l.Close()

	l2, err := c.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l2.Close() })
	for i := 2; i < 6; i++ {
		// Without the rewind these would wait out the 30 s AckWait.
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		r, err := l2.NextRecord(short)
		cancel()
		if err != nil {
			t.Fatalf("record r%d: %v", i, err)
		}
		if string(r.Value) != fmt.Sprint("r", i) {
			t.Fatalf("got %q, want r%d", r.Value, i)
		}
	}
}

// A rewind that fails for want of an answer (a slow or partitioned
// server) must fail JoinLog: reading on without it hands out records
// published after a crashed consumer's uncommitted ones, which the server
// redelivers only after AckWait, and a commit of those covers them unread.
func TestJoinLogFailsWhenTheRewindIsNotAnswered(t *testing.T) {
	c := connect(t, shared.URL())
	subject, stream := uniqueSubject("norewind")
	createStream(t, c, stream, subject)
	publishN(t, c, subject, "r", 0, 4)
	ctx := testCtx(t)
	crashed := connect(t, shared.URL())
	l, err := crashed.JoinLog(ctx, jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := l.NextRecord(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_ = crashed.Close() // r0..r3 stay delivered, uncommitted
	defer l.Close()
	publishN(t, c, subject, "r", 4, 6)

	// A client whose reset request goes unanswered within its API timeout.
	nc, err := nats.Connect(shared.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	slow, err := jetstream.NewClient(nc, natsjs.WithDefaultTimeout(300*time.Millisecond),
		natsjs.WithClientTrace(&natsjs.ClientTrace{RequestSent: func(subj string, _ []byte) {
			if strings.Contains(subj, ".CONSUMER.RESET.") {
				time.Sleep(time.Second)
			}
		}}))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := slow.JoinLog(context.Background(), jetstream.LogConfig{Subject: subject, Group: "g"})
	if err != nil {
		if !errors.Is(err, broker.ErrUnavailable) {
			t.Errorf("JoinLog: got %v, want an error wrapping broker.ErrUnavailable", err)
		}
		return
	}
	defer l2.Close()
	r, err := l2.NextRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Value) != "r0" {
		t.Errorf("JoinLog went on without its rewind: first record %q, want r0 (r0..r3 are uncommitted)", r.Value)
	}
}
