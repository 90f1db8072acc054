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
