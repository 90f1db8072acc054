package sbtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// This file is AMQP 1.0 framing (part 2 "Transport", §2.3): an 8-byte
// header (SIZE uint32, DOFF uint8 in 4-byte words, TYPE uint8, a 2-byte
// type-specific field that is the channel for AMQP frames), an optional
// extended header, then the body.

const (
	frameTypeAMQP = 0x00
	frameTypeSASL = 0x01

	// minMaxFrameSize is the smallest max-frame-size a peer may announce
	// (§2.7.1, open: MIN-MAX-FRAME-SIZE is 512).
	minMaxFrameSize = 512

	// serverMaxFrameSize is what the server announces and accepts. 64 KiB
	// is what go-amqp uses too, so both directions split large messages.
	serverMaxFrameSize = 65536
)

// Protocol headers (§2.2 for AMQP, §5.3.2 for SASL): "AMQP", protocol id,
// then version 1.0.0.
var (
	protoHeaderAMQP = []byte{'A', 'M', 'Q', 'P', 0, 1, 0, 0}
	protoHeaderSASL = []byte{'A', 'M', 'Q', 'P', 3, 1, 0, 0}
)

// frame is one decoded frame. body excludes the header and extended header.
// An empty body is a heartbeat (§2.4.5).
type frame struct {
	typ     byte
	channel uint16
	body    []byte
}

var errFrameTooLarge = errors.New("amqp: frame larger than max-frame-size")

// readFrame reads one frame, refusing frames larger than maxSize so that a
// hostile size field cannot make the server allocate gigabytes.
func readFrame(r io.Reader, maxSize uint32) (frame, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return frame{}, err
	}
	size := binary.BigEndian.Uint32(hdr[0:4])
	doff := hdr[4]
	if size < 8 {
		return frame{}, fmt.Errorf("amqp: frame size %d below the 8-byte header", size)
	}
	if size > maxSize {
		return frame{}, errFrameTooLarge
	}
	// §2.3.1: DOFF counts 4-byte words and is at least 2 (the header).
	if doff < 2 || uint32(doff)*4 > size {
		return frame{}, fmt.Errorf("amqp: invalid data offset %d", doff)
	}
	rest := make([]byte, size-8)
	if _, err := io.ReadFull(r, rest); err != nil {
		return frame{}, err
	}
	return frame{
		typ:     hdr[5],
		channel: binary.BigEndian.Uint16(hdr[6:8]),
		body:    rest[int(doff)*4-8:],
	}, nil
}

// appendFrame appends a complete frame with no extended header (DOFF 2).
func appendFrame(buf []byte, typ byte, channel uint16, body []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(8+len(body)))
	buf = append(buf, 2, typ)
	buf = binary.BigEndian.AppendUint16(buf, channel)
	return append(buf, body...)
}

// heartbeat is an empty AMQP frame on channel 0 (§2.4.5), written to keep
// the client's idle timer from firing.
var heartbeat = appendFrame(nil, frameTypeAMQP, 0, nil)
