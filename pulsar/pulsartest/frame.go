package pulsartest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// Framing, as described in the Pulsar binary protocol specification
// (https://pulsar.apache.org/docs/next/developing-binary-protocol/, "Framing"
// and "Message metadata"):
//
//	simple command:  [totalSize uint32][commandSize uint32][BaseCommand]
//	payload command: [totalSize uint32][commandSize uint32][BaseCommand]
//	                 [magic 0x0e01 uint16][checksum uint32][metadataSize uint32]
//	                 [MessageMetadata][payload]
//
// All integers are big-endian. totalSize counts every byte after itself. The
// checksum is CRC-32C (Castagnoli) over everything after the checksum field,
// from metadataSize to the end of the frame.
const (
	// magicCRC32C marks a payload whose checksum is CRC-32C.
	magicCRC32C = 0x0e01
	// magicBrokerEntryMetadata marks an optional broker entry metadata prefix
	// in front of the payload; clients never send it.
	magicBrokerEntryMetadata = 0x0e02

	// maxMessageSize is advertised to clients in CONNECTED (the protocol's
	// default of 5 MiB).
	maxMessageSize = 5 << 20
	// maxFrameSize bounds what the server reads: a message plus room for the
	// command and metadata, so a corrupt size field cannot make the server
	// allocate gigabytes.
	maxFrameSize = maxMessageSize + 10<<10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errProtocol classifies input the server cannot accept; the connection that
// sent it is answered with an ERROR and closed.
var errProtocol = errors.New("pulsartest: protocol error")

// frame is one decoded frame: the command and, for SEND, the bytes that follow
// it (magic, checksum, metadata size, metadata, payload), kept verbatim so
// they can be replayed unchanged inside MESSAGE frames.
type frame struct {
	cmd     *wire.BaseCommand
	payload []byte
}

// readFrame reads and decodes one frame. Any malformed input yields an error
// wrapping errProtocol; I/O errors are returned as they are.
func readFrame(r io.Reader) (frame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, err
	}
	total := binary.BigEndian.Uint32(hdr[:])
	if total < 4 || total > maxFrameSize {
		return frame{}, fmt.Errorf("%w: frame size %d out of range", errProtocol, total)
	}
	buf := make([]byte, total)
	if _, err := io.ReadFull(r, buf); err != nil {
		return frame{}, err
	}
	return decodeFrame(buf)
}

// decodeFrame decodes the bytes after the totalSize field.
func decodeFrame(buf []byte) (frame, error) {
	if len(buf) < 4 {
		return frame{}, fmt.Errorf("%w: frame too short", errProtocol)
	}
	cmdSize := binary.BigEndian.Uint32(buf)
	if uint64(cmdSize) > uint64(len(buf)-4) {
		return frame{}, fmt.Errorf("%w: command size %d exceeds frame size %d", errProtocol, cmdSize, len(buf))
	}
	cmd := new(wire.BaseCommand)
	if err := proto.Unmarshal(buf[4:4+cmdSize], cmd); err != nil {
		return frame{}, fmt.Errorf("%w: decoding command: %v", errProtocol, err)
	}
	f := frame{cmd: cmd}
	if rest := buf[4+cmdSize:]; len(rest) > 0 {
		f.payload = rest
	}
	return f, nil
}

// encodeFrame encodes cmd, followed by payload if it is not nil. payload must
// already be in the "magic, checksum, metadata, payload" form.
func encodeFrame(cmd *wire.BaseCommand, payload []byte) ([]byte, error) {
	b, err := proto.Marshal(cmd)
	if err != nil {
		// Only a server bug (a required field left unset) gets here.
		return nil, fmt.Errorf("pulsartest: encoding %v: %w", cmd.GetType(), err)
	}
	out := make([]byte, 8, 8+len(b)+len(payload))
	binary.BigEndian.PutUint32(out[0:], uint32(4+len(b)+len(payload)))
	binary.BigEndian.PutUint32(out[4:], uint32(len(b)))
	out = append(out, b...)
	return append(out, payload...), nil
}

// encodePayload builds the "magic, checksum, metadataSize, metadata, body"
// part of a payload frame, computing the CRC-32C.
func encodePayload(meta *wire.MessageMetadata, body []byte) ([]byte, error) {
	m, err := proto.Marshal(meta)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 10, 10+len(m)+len(body))
	binary.BigEndian.PutUint16(out[0:], magicCRC32C)
	binary.BigEndian.PutUint32(out[6:], uint32(len(m)))
	out = append(out, m...)
	out = append(out, body...)
	binary.BigEndian.PutUint32(out[2:], crc32.Checksum(out[6:], castagnoli))
	return out, nil
}

// parsePayload checks the magic number and checksum of a SEND payload and
// decodes its MessageMetadata. It returns the metadata and the body that
// follows it.
func parsePayload(p []byte) (*wire.MessageMetadata, []byte, error) {
	if len(p) < 10 {
		return nil, nil, fmt.Errorf("%w: payload of %d bytes is too short", errProtocol, len(p))
	}
	if magic := binary.BigEndian.Uint16(p); magic != magicCRC32C {
		return nil, nil, fmt.Errorf("%w: payload magic %#04x, want %#04x", errProtocol, magic, magicCRC32C)
	}
	want := binary.BigEndian.Uint32(p[2:])
	if got := crc32.Checksum(p[6:], castagnoli); got != want {
		return nil, nil, fmt.Errorf("%w: %w: computed %#08x, frame says %#08x", errProtocol, errChecksum, got, want)
	}
	metaSize := binary.BigEndian.Uint32(p[6:])
	if uint64(metaSize) > uint64(len(p)-10) {
		return nil, nil, fmt.Errorf("%w: metadata size %d exceeds payload", errProtocol, metaSize)
	}
	meta := new(wire.MessageMetadata)
	if err := proto.Unmarshal(p[10:10+metaSize], meta); err != nil {
		return nil, nil, fmt.Errorf("%w: decoding message metadata: %v", errProtocol, err)
	}
	return meta, p[10+metaSize:], nil
}

// errChecksum marks a payload whose CRC-32C does not match.
var errChecksum = errors.New("checksum mismatch")
