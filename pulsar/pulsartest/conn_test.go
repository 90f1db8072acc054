package pulsartest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/pulsar-client-go/pulsar"
	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// rawConn speaks the protocol by hand, to send what no real client would.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "pulsar://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	if _, err := rc.nc.Write(b); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *rawConn) writeCmd(cmd *wire.BaseCommand, payload []byte) {
	rc.t.Helper()
	b, err := encodeFrame(cmd, payload)
	if err != nil {
		rc.t.Fatal(err)
	}
	rc.write(b)
}

func (rc *rawConn) read() *wire.BaseCommand {
	rc.t.Helper()
	f, err := readFrame(rc.r)
	if err != nil {
		rc.t.Fatalf("reading a frame: %v", err)
	}
	return f.cmd
}

// expectClosed checks that the server closed the connection.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	if _, err := readFrame(rc.r); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		rc.t.Fatalf("after a protocol error: read %v, want the connection closed", err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

func (rc *rawConn) connect() {
	rc.t.Helper()
	rc.writeCmd(&wire.BaseCommand{
		Type:    wire.BaseCommand_CONNECT.Enum(),
		Connect: &wire.CommandConnect{ClientVersion: proto.String("raw-test"), ProtocolVersion: proto.Int32(20)},
	}, nil)
	if got := rc.read(); got.GetType() != wire.BaseCommand_CONNECTED || got.GetConnected().GetServerVersion() == "" {
		rc.t.Fatalf("CONNECT answered with %v", got)
	}
}

func TestConnectedServerAnswersPingWithPong(t *testing.T) {
	s := newServer(t)
	rc := dialRaw(t, s)
	rc.connect()
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_PING.Enum(), Ping: &wire.CommandPing{}}, nil)
	if got := rc.read(); got.GetType() != wire.BaseCommand_PONG {
		t.Fatalf("PING answered with %v", got.GetType())
	}
}

func TestMalformedFramesGetAnErrorAndAClosedConnection(t *testing.T) {
	s := newServer(t)
	c := newClient(t, s)
	topic := topicName(t)
	cons := subscribe(t, c, pulsar.ConsumerOptions{Topic: topic, SubscriptionName: "sub"})
	p := produce(t, c, pulsar.ProducerOptions{Topic: topic})

	sizeOnly := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	cases := map[string]func(rc *rawConn){
		"garbage command": func(rc *rawConn) {
			rc.connect()
			rc.write([]byte{0, 0, 0, 7, 0, 0, 0, 3, 0xff, 0xff, 0xff})
		},
		"command before CONNECT": func(rc *rawConn) {
			rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_PING.Enum(), Ping: &wire.CommandPing{}}, nil)
		},
		"huge frame": func(rc *rawConn) {
			rc.connect()
			rc.write(sizeOnly(1 << 30))
		},
		"command size beyond frame": func(rc *rawConn) {
			rc.connect()
			rc.write(append(sizeOnly(6), 0, 0, 1, 0, 0x08, 18))
		},
		"type without body": func(rc *rawConn) {
			rc.connect()
			rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum()}, nil)
		},
		"unsupported command": func(rc *rawConn) {
			rc.connect()
			rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_GET_SCHEMA.Enum()}, nil)
		},
	}
	for name, send := range cases {
		t.Run(name, func(t *testing.T) {
			rc := dialRaw(t, s)
			send(rc)
			if got := rc.read(); got.GetType() != wire.BaseCommand_ERROR {
				t.Fatalf("answered with %v, want ERROR", got.GetType())
			}
			rc.expectClosed()
		})
	}

	t.Run("bad checksum", func(t *testing.T) {
		rc := dialRaw(t, s)
		rc.connect()
		rc.writeCmd(&wire.BaseCommand{
			Type: wire.BaseCommand_PRODUCER.Enum(),
			Producer: &wire.CommandProducer{Topic: proto.String(fullTopicName(topic)),
				ProducerId: proto.Uint64(1), RequestId: proto.Uint64(1)},
		}, nil)
		if got := rc.read(); got.GetType() != wire.BaseCommand_PRODUCER_SUCCESS {
			t.Fatalf("PRODUCER answered with %v", got)
		}
		payload, err := encodePayload(&wire.MessageMetadata{ProducerName: proto.String("raw"),
			SequenceId: proto.Uint64(0), PublishTime: proto.Uint64(1)}, []byte("corrupt me"))
		if err != nil {
			t.Fatal(err)
		}
		payload[len(payload)-1] ^= 1
		rc.writeCmd(&wire.BaseCommand{
			Type: wire.BaseCommand_SEND.Enum(),
			Send: &wire.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(0)},
		}, payload)
		got := rc.read()
		if got.GetType() != wire.BaseCommand_SEND_ERROR || got.GetSendError().GetError() != wire.ServerError_ChecksumError {
			t.Fatalf("corrupt SEND answered with %v", got)
		}
		rc.expectClosed()
	})

	// The server kept serving the real client throughout.
	send(t, p, &pulsar.ProducerMessage{Payload: []byte("still fine")})
	if m := receive(t, cons); string(m.Payload()) != "still fine" {
		t.Fatalf("got %q", m.Payload())
	}
	if n := s.MessageCount(topic); n != 1 {
		t.Fatalf("MessageCount = %d, want 1 (the corrupt message must not be stored)", n)
	}
}

func TestNonsensicalButWellFormedCommandsDoNotUpsetTheServer(t *testing.T) {
	s := newServer(t)
	rc := dialRaw(t, s)
	rc.connect()
	u := proto.Uint64
	huge := ^uint64(0)
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &wire.CommandSubscribe{
		Topic: proto.String("persistent://public/default/nonsense"), Subscription: proto.String("sub"),
		SubType: wire.CommandSubscribe_Shared.Enum(), ConsumerId: u(1), RequestId: u(1)}}, nil)
	if got := rc.read(); got.GetType() != wire.BaseCommand_SUCCESS {
		t.Fatalf("SUBSCRIBE answered with %v", got)
	}
	id := func(entry uint64) *wire.MessageIdData {
		return &wire.MessageIdData{LedgerId: u(huge), EntryId: u(entry), AckSet: []int64{-1, 5}}
	}
	for _, cmd := range []*wire.BaseCommand{
		{Type: wire.BaseCommand_FLOW.Enum(), Flow: &wire.CommandFlow{ConsumerId: u(1), MessagePermits: proto.Uint32(1 << 31)}},
		{Type: wire.BaseCommand_FLOW.Enum(), Flow: &wire.CommandFlow{ConsumerId: u(42), MessagePermits: proto.Uint32(1)}},
		{Type: wire.BaseCommand_ACK.Enum(), Ack: &wire.CommandAck{ConsumerId: u(1), AckType: wire.CommandAck_Cumulative.Enum(),
			MessageId: []*wire.MessageIdData{id(5), id(huge - 1)}}},
		{Type: wire.BaseCommand_ACK.Enum(), Ack: &wire.CommandAck{ConsumerId: u(1), AckType: wire.CommandAck_Individual.Enum(),
			MessageId: []*wire.MessageIdData{id(huge), id(0)}}},
		{Type: wire.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES.Enum(), RedeliverUnacknowledgedMessages: &wire.CommandRedeliverUnacknowledgedMessages{
			ConsumerId: u(1), MessageIds: []*wire.MessageIdData{id(7), id(huge)}}},
		{Type: wire.BaseCommand_CLOSE_PRODUCER.Enum(), CloseProducer: &wire.CommandCloseProducer{ProducerId: u(9), RequestId: u(2)}},
	} {
		rc.writeCmd(cmd, nil)
	}
	if got := rc.read(); got.GetType() != wire.BaseCommand_SUCCESS || got.GetSuccess().GetRequestId() != 2 {
		t.Fatalf("CLOSE_PRODUCER of an unknown producer answered with %v", got)
	}
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SEEK.Enum(), Seek: &wire.CommandSeek{ConsumerId: u(99), RequestId: u(3),
		MessageId: id(huge)}}, nil)
	if got := rc.read(); got.GetType() != wire.BaseCommand_ERROR || got.GetError().GetRequestId() != 3 {
		t.Fatalf("SEEK by an unknown consumer answered with %v", got)
	}
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_GET_LAST_MESSAGE_ID.Enum(),
		GetLastMessageId: &wire.CommandGetLastMessageId{ConsumerId: u(1), RequestId: u(4)}}, nil)
	got := rc.read()
	if got.GetType() != wire.BaseCommand_GET_LAST_MESSAGE_ID_RESPONSE || got.GetGetLastMessageIdResponse().GetLastMessageId().GetEntryId() != huge {
		t.Fatalf("GET_LAST_MESSAGE_ID on an empty topic answered with %v", got)
	}

	// A batch claiming more messages than its bytes can hold is corrupt.
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_PRODUCER.Enum(), Producer: &wire.CommandProducer{
		Topic: proto.String("persistent://public/default/nonsense"), ProducerId: u(1), RequestId: u(5)}}, nil)
	if got := rc.read(); got.GetType() != wire.BaseCommand_PRODUCER_SUCCESS {
		t.Fatalf("PRODUCER answered with %v", got)
	}
	payload, err := encodePayload(&wire.MessageMetadata{ProducerName: proto.String("raw"), SequenceId: u(0),
		PublishTime: u(1), NumMessagesInBatch: proto.Int32(1 << 30)}, []byte("tiny"))
	if err != nil {
		t.Fatal(err)
	}
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SEND.Enum(), Send: &wire.CommandSend{ProducerId: u(1), SequenceId: u(0)}}, payload)
	if got := rc.read(); got.GetType() != wire.BaseCommand_SEND_ERROR {
		t.Fatalf("corrupt batch answered with %v", got)
	}
	rc.expectClosed()
	if n := s.MessageCount("nonsense"); n != 0 {
		t.Fatalf("MessageCount = %d, want 0", n)
	}
}

// Unsubscribe is tested over a raw connection: pulsar-client-go v0.19.0
// leaves a consumer's goroutines running after Consumer.Unsubscribe (it
// marks the consumer closed without stopping them, and Close then does
// nothing), which the leak check would report.
func TestUnsubscribeRemovesTheSubscription(t *testing.T) {
	s := newServer(t)
	rc := dialRaw(t, s)
	rc.connect()
	u := proto.Uint64
	for i := uint64(1); i <= 2; i++ {
		rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &wire.CommandSubscribe{
			Topic: proto.String("persistent://public/default/unsub"), Subscription: proto.String("gone"),
			SubType: wire.CommandSubscribe_Shared.Enum(), ConsumerId: u(i), RequestId: u(i)}}, nil)
		if got := rc.read(); got.GetType() != wire.BaseCommand_SUCCESS {
			t.Fatalf("SUBSCRIBE answered with %v", got)
		}
	}
	unsub := func(rid uint64, force bool) *wire.BaseCommand {
		rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_UNSUBSCRIBE.Enum(), Unsubscribe: &wire.CommandUnsubscribe{
			ConsumerId: u(1), RequestId: u(rid), Force: proto.Bool(force)}}, nil)
		return rc.read()
	}
	if got := unsub(3, false); got.GetType() != wire.BaseCommand_ERROR {
		t.Fatalf("UNSUBSCRIBE with another consumer attached answered with %v", got)
	}
	// Forcing it disconnects the other consumer first.
	if got := unsub(4, true); got.GetType() != wire.BaseCommand_CLOSE_CONSUMER || got.GetCloseConsumer().GetConsumerId() != 2 {
		t.Fatalf("forced UNSUBSCRIBE: got %v, want CLOSE_CONSUMER for consumer 2", got)
	}
	if got := rc.read(); got.GetType() != wire.BaseCommand_SUCCESS {
		t.Fatalf("forced UNSUBSCRIBE answered with %v", got)
	}
	if got := s.Subscriptions("unsub"); len(got) != 0 {
		t.Fatalf("Subscriptions after UNSUBSCRIBE = %v", got)
	}
}

// pingPong sends a PING and returns every frame that arrives before the
// PONG. The server handles a connection's commands in order and queues what
// they cause before the PONG, so this is a deterministic "what else came".
func (rc *rawConn) pingPong() []*wire.BaseCommand {
	rc.t.Helper()
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_PING.Enum(), Ping: &wire.CommandPing{}}, nil)
	var out []*wire.BaseCommand
	for {
		cmd := rc.read()
		if cmd.GetType() == wire.BaseCommand_PONG {
			return out
		}
		out = append(out, cmd)
	}
}

func TestFlowPermitsBoundWhatAConsumerIsSent(t *testing.T) {
	s := newServer(t)
	rc := dialRaw(t, s)
	rc.connect()
	u := proto.Uint64
	topic := proto.String("persistent://public/default/permits")
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SUBSCRIBE.Enum(), Subscribe: &wire.CommandSubscribe{
		Topic: topic, Subscription: proto.String("sub"), SubType: wire.CommandSubscribe_Shared.Enum(),
		ConsumerId: u(1), RequestId: u(1)}}, nil)
	rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_PRODUCER.Enum(), Producer: &wire.CommandProducer{
		Topic: topic, ProducerId: u(1), RequestId: u(2)}}, nil)
	if got := rc.pingPong(); len(got) != 2 || got[0].GetType() != wire.BaseCommand_SUCCESS ||
		got[1].GetType() != wire.BaseCommand_PRODUCER_SUCCESS {
		t.Fatalf("SUBSCRIBE and PRODUCER answered with %v", got)
	}
	// Five single messages and one batch of three.
	for seq := uint64(0); seq < 6; seq++ {
		meta := &wire.MessageMetadata{ProducerName: proto.String("raw"), SequenceId: u(seq), PublishTime: u(1)}
		body := []byte("single")
		if seq == 5 {
			meta.NumMessagesInBatch = proto.Int32(3)
			body = []byte("three messages, in a batch body")
		}
		payload, err := encodePayload(meta, body)
		if err != nil {
			t.Fatal(err)
		}
		rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_SEND.Enum(),
			Send: &wire.CommandSend{ProducerId: u(1), SequenceId: u(seq)}}, payload)
	}
	if got := rc.pingPong(); len(got) != 6 {
		t.Fatalf("got %d frames for 6 SENDs, want 6 receipts and no MESSAGE before FLOW", len(got))
	}

	messages := func(permits uint32) []uint64 {
		t.Helper()
		if permits > 0 {
			rc.writeCmd(&wire.BaseCommand{Type: wire.BaseCommand_FLOW.Enum(),
				Flow: &wire.CommandFlow{ConsumerId: u(1), MessagePermits: proto.Uint32(permits)}}, nil)
		}
		var entries []uint64
		for _, cmd := range rc.pingPong() {
			if cmd.GetType() != wire.BaseCommand_MESSAGE {
				t.Fatalf("unexpected %v", cmd)
			}
			entries = append(entries, cmd.GetMessage().GetMessageId().GetEntryId())
		}
		return entries
	}
	if got := messages(2); len(got) != 2 || got[0] != 0 || got[1] != 1 {
		t.Fatalf("FLOW 2 delivered entries %v, want [0 1]", got)
	}
	if got := messages(3); len(got) != 3 {
		t.Fatalf("FLOW 3 delivered entries %v, want 3", got)
	}
	// One permit left: the batch entry still goes out whole (permits go
	// negative, as with a real broker), and after it nothing until the
	// balance is positive again.
	if got := messages(1); len(got) != 1 || got[0] != 5 {
		t.Fatalf("FLOW 1 delivered entries %v, want the batch [5]", got)
	}
}
