package pulsartest

import (
	"io"
	"net"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// FuzzHandleCommands feeds arbitrary well-formed commands to a connection's
// handlers, after a session that created a topic with a batch, a producer
// and consumers, and checks that nothing panics. Without -fuzz only the
// seeds run.
func FuzzHandleCommands(f *testing.F) {
	u := proto.Uint64
	mid := func(entry uint64, set ...int64) *wire.MessageIdData {
		return &wire.MessageIdData{LedgerId: u(1), EntryId: u(entry), AckSet: set}
	}
	seeds := []*wire.BaseCommand{
		{Type: wire.BaseCommand_FLOW.Enum(), Flow: &wire.CommandFlow{ConsumerId: u(1), MessagePermits: proto.Uint32(3)}},
		{Type: wire.BaseCommand_ACK.Enum(), Ack: &wire.CommandAck{ConsumerId: u(1), AckType: wire.CommandAck_Cumulative.Enum(),
			MessageId: []*wire.MessageIdData{mid(1, 2)}}},
		{Type: wire.BaseCommand_ACK.Enum(), Ack: &wire.CommandAck{ConsumerId: u(2), AckType: wire.CommandAck_Individual.Enum(),
			MessageId: []*wire.MessageIdData{mid(0, 5), mid(1)}, RequestId: u(9)}},
		{Type: wire.BaseCommand_SEEK.Enum(), Seek: &wire.CommandSeek{ConsumerId: u(2), RequestId: u(3), MessageId: mid(1)}},
		{Type: wire.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES.Enum(),
			RedeliverUnacknowledgedMessages: &wire.CommandRedeliverUnacknowledgedMessages{ConsumerId: u(1)}},
		{Type: wire.BaseCommand_UNSUBSCRIBE.Enum(), Unsubscribe: &wire.CommandUnsubscribe{ConsumerId: u(2), RequestId: u(4), Force: proto.Bool(true)}},
		{Type: wire.BaseCommand_CLOSE_CONSUMER.Enum(), CloseConsumer: &wire.CommandCloseConsumer{ConsumerId: u(1), RequestId: u(5)}},
	}
	for _, cmd := range seeds {
		b, err := proto.Marshal(cmd)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd := new(wire.BaseCommand)
		if proto.Unmarshal(b, cmd) != nil {
			return
		}
		s, err := NewServer()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		srv, cli := net.Pipe()
		defer cli.Close()
		go func() { _, _ = io.Copy(io.Discard, cli) }()
		c := newConn(s, srv)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.writeLoop()
		defer c.close()

		topic := proto.String("persistent://public/default/fuzz")
		payload, err := encodePayload(&wire.MessageMetadata{ProducerName: proto.String("p"), SequenceId: u(0),
			PublishTime: u(1), NumMessagesInBatch: proto.Int32(3)}, []byte("a batch body of three"))
		if err != nil {
			t.Fatal(err)
		}
		session := []frame{
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_CONNECT.Enum(), Connect: &wire.CommandConnect{ClientVersion: proto.String("fuzz")}}},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &wire.CommandSubscribe{Topic: topic,
				Subscription: proto.String("s"), SubType: wire.CommandSubscribe_Key_Shared.Enum(), ConsumerId: u(1), RequestId: u(1),
				InitialPosition: wire.CommandSubscribe_Earliest.Enum()}}},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &wire.CommandSubscribe{Topic: topic,
				Subscription: proto.String("f"), SubType: wire.CommandSubscribe_Failover.Enum(), ConsumerId: u(2), RequestId: u(2),
				Durable: proto.Bool(false), StartMessageId: mid(0)}}},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_PRODUCER.Enum(), Producer: &wire.CommandProducer{Topic: topic,
				ProducerId: u(1), RequestId: u(3)}}},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_SEND.Enum(), Send: &wire.CommandSend{ProducerId: u(1), SequenceId: u(0)}}, payload: payload},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_FLOW.Enum(), Flow: &wire.CommandFlow{ConsumerId: u(2), MessagePermits: proto.Uint32(1)}}},
			{cmd: cmd},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_SEND.Enum(), Send: &wire.CommandSend{ProducerId: u(1), SequenceId: u(1)}}, payload: payload},
			{cmd: &wire.BaseCommand{Type: wire.BaseCommand_FLOW.Enum(), Flow: &wire.CommandFlow{ConsumerId: u(1), MessagePermits: proto.Uint32(5)}}},
			{cmd: cmd},
		}
		for _, fr := range session {
			if !c.handle(fr) {
				break
			}
		}
		s.mu.Lock()
		for _, tp := range s.topics {
			for _, sub := range tp.subs {
				_ = sub.backlog()
			}
		}
		s.mu.Unlock()
	})
}
