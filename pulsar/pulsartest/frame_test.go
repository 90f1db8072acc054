package pulsartest

import (
	"bytes"
	"errors"
	"hash/crc32"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// The expected bytes below are worked out by hand from the protocol
// specification's framing rules and the protobuf encoding rules (tag =
// field<<3 | wire type; varints little-endian base 128).

func TestEncodeFramePingMatchesHandComputedBytes(t *testing.T) {
	cmd := &wire.BaseCommand{Type: wire.BaseCommand_PING.Enum(), Ping: &wire.CommandPing{}}
	got, err := encodeFrame(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 0, 0, 9, // totalSize: 4 (commandSize) + 5 (command)
		0, 0, 0, 5, // commandSize
		0x08, 18, // field 1 (type), varint: PING = 18
		0x92, 0x01, 0x00, // field 18 (ping), length-delimited: tag 146 = 0x92 0x01, length 0
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("PING frame\n got % x\nwant % x", got, want)
	}
}

func TestEncodeFrameFlowMatchesHandComputedBytes(t *testing.T) {
	cmd := &wire.BaseCommand{
		Type: wire.BaseCommand_FLOW.Enum(),
		Flow: &wire.CommandFlow{ConsumerId: proto.Uint64(1), MessagePermits: proto.Uint32(1000)},
	}
	got, err := encodeFrame(cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0, 0, 0, 13, // totalSize
		0, 0, 0, 9, // commandSize
		0x08, 11, // type = FLOW (11)
		0x5a, 5, // field 11 (flow), length-delimited, 5 bytes
		0x08, 1, // consumer_id = 1
		0x10, 0xe8, 0x07, // messagePermits = 1000 = 0x3e8 -> e8 07
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("FLOW frame\n got % x\nwant % x", got, want)
	}
	f, err := decodeFrame(got[4:])
	if err != nil {
		t.Fatal(err)
	}
	if f.cmd.GetFlow().GetMessagePermits() != 1000 || f.payload != nil {
		t.Fatalf("round trip: %v payload %x", f.cmd, f.payload)
	}
}

// crc32cBitwise is an independent, bit-at-a-time CRC-32C (reflected
// polynomial 0x82F63B78) used to check the table-driven one.
func crc32cBitwise(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc ^= uint32(c)
		for i := 0; i < 8; i++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82f63b78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestChecksumIsCRC32C(t *testing.T) {
	// The standard check value of CRC-32C.
	if got := crc32.Checksum([]byte("123456789"), castagnoli); got != 0xe3069283 {
		t.Fatalf("crc32c(123456789) = %#x", got)
	}
	if got := crc32cBitwise([]byte("123456789")); got != 0xe3069283 {
		t.Fatalf("bitwise crc32c(123456789) = %#x", got)
	}
}

func TestEncodePayloadMatchesHandComputedBytes(t *testing.T) {
	meta := &wire.MessageMetadata{
		ProducerName: proto.String("p"),
		SequenceId:   proto.Uint64(0),
		PublishTime:  proto.Uint64(1),
	}
	got, err := encodePayload(meta, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	covered := []byte{
		0, 0, 0, 7, // metadataSize
		0x0a, 1, 'p', // producer_name = "p"
		0x10, 0, // sequence_id = 0
		0x18, 1, // publish_time = 1
		'h', 'i', // payload
	}
	sum := crc32cBitwise(covered)
	want := append([]byte{0x0e, 0x01, byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)}, covered...)
	if !bytes.Equal(got, want) {
		t.Fatalf("payload\n got % x\nwant % x", got, want)
	}
	m, body, err := parsePayload(got)
	if err != nil {
		t.Fatal(err)
	}
	if m.GetProducerName() != "p" || string(body) != "hi" {
		t.Fatalf("parsed %v %q", m, body)
	}
}

func TestParsePayloadRejectsCorruption(t *testing.T) {
	meta := &wire.MessageMetadata{ProducerName: proto.String("p"), SequenceId: proto.Uint64(0), PublishTime: proto.Uint64(1)}
	good, err := encodePayload(meta, []byte("hi"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0xff
	if _, _, err := parsePayload(flipped); !errors.Is(err, errChecksum) || !errors.Is(err, errProtocol) {
		t.Fatalf("flipped payload byte: err = %v, want checksum protocol error", err)
	}
	badMagic := bytes.Clone(good)
	badMagic[1] = 0x02
	if _, _, err := parsePayload(badMagic); !errors.Is(err, errProtocol) {
		t.Fatalf("bad magic: err = %v", err)
	}
	if _, _, err := parsePayload(good[:5]); !errors.Is(err, errProtocol) {
		t.Fatalf("short payload: err = %v", err)
	}
}

func TestDecodeFrameRejectsMalformedInput(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":                {},
		"command size too big": {0, 0, 0, 200, 0x08, 18},
		"not protobuf":         {0, 0, 0, 3, 0xff, 0xff, 0xff},
		"missing type":         {0, 0, 0, 0},
	} {
		if _, err := decodeFrame(b); !errors.Is(err, errProtocol) {
			t.Errorf("%s: err = %v, want protocol error", name, err)
		}
	}
	if _, err := readFrame(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); !errors.Is(err, errProtocol) {
		t.Errorf("huge frame size: err = %v, want protocol error", err)
	}
}

// FuzzDecodeFrame checks that no input makes frame or payload decoding
// panic. Without -fuzz only the seeds run.
func FuzzDecodeFrame(f *testing.F) {
	ping, _ := encodeFrame(&wire.BaseCommand{Type: wire.BaseCommand_PING.Enum(), Ping: &wire.CommandPing{}}, nil)
	payload, _ := encodePayload(&wire.MessageMetadata{ProducerName: proto.String("p"), SequenceId: proto.Uint64(1),
		PublishTime: proto.Uint64(2), NumMessagesInBatch: proto.Int32(3)}, []byte("body"))
	send, _ := encodeFrame(&wire.BaseCommand{Type: wire.BaseCommand_SEND.Enum(),
		Send: &wire.CommandSend{ProducerId: proto.Uint64(1), SequenceId: proto.Uint64(1)}}, payload)
	f.Add(ping[4:])
	f.Add(send[4:])
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := decodeFrame(b)
		if err == nil && fr.payload != nil {
			_, _, _ = parsePayload(fr.payload)
		}
	})
}
