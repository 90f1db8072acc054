package sbtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
)

// This file is the SASL layer (OASIS AMQP 1.0 part 5, §5.3). The emulator
// connection string makes the client use ANONYMOUS; authorization happens
// afterwards with a token on $cbs, so SASL here only has to get out of the
// way. PLAIN is offered too and accepted without checking, since Service
// Bus never relies on it.

// SASL outcome codes (§5.3.3.6).
const (
	saslOK   = 0
	saslAuth = 1
)

// handshake runs the protocol-header exchange, SASL if the client asks for
// it, and the AMQP protocol header. It returns once the next bytes on the
// wire are AMQP frames.
func handshake(nc net.Conn) error {
	var hdr [8]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		return err
	}
	switch {
	case bytes.Equal(hdr[:], protoHeaderSASL):
		if err := saslExchange(nc); err != nil {
			return err
		}
		if _, err := io.ReadFull(nc, hdr[:]); err != nil {
			return err
		}
		if !bytes.Equal(hdr[:], protoHeaderAMQP) {
			_, _ = nc.Write(protoHeaderAMQP)
			return fmt.Errorf("amqp: unexpected protocol header %q after SASL", hdr[:])
		}
	case bytes.Equal(hdr[:], protoHeaderAMQP):
		// No SASL: allowed by §5.1, authorization still happens on $cbs.
	default:
		// §2.2: on an unsupported header the server answers with the
		// header it does support and closes the socket.
		_, _ = nc.Write(protoHeaderSASL)
		return fmt.Errorf("amqp: unsupported protocol header %q", hdr[:])
	}
	_, err := nc.Write(protoHeaderAMQP)
	return err
}

func saslExchange(nc net.Conn) error {
	if _, err := nc.Write(protoHeaderSASL); err != nil {
		return err
	}
	mechs := encodeComposite(nil, descSASLMechanisms, []symbol{"ANONYMOUS", "PLAIN"})
	if _, err := nc.Write(appendFrame(nil, frameTypeSASL, 0, mechs)); err != nil {
		return err
	}
	fr, err := readFrame(nc, minMaxFrameSize*8)
	if err != nil {
		return err
	}
	err = checkSASLInit(fr)
	code := uint8(saslOK)
	if err != nil {
		code = saslAuth
	}
	outcome := encodeComposite(nil, descSASLOutcome, code)
	if _, werr := nc.Write(appendFrame(nil, frameTypeSASL, 0, outcome)); werr != nil {
		return werr
	}
	return err
}

// checkSASLInit checks a sasl-init frame (§5.3.3.2): well formed, with a
// mechanism the server offered.
func checkSASLInit(fr frame) error {
	if fr.typ != frameTypeSASL {
		return errors.New("sasl: expected a SASL frame")
	}
	v, n, err := decodeValue(fr.body)
	if err != nil {
		return err
	}
	if n != len(fr.body) {
		return errors.New("sasl: trailing bytes after sasl-init")
	}
	f, err := composite(v, descSASLInit, "sasl-init")
	if err != nil {
		return err
	}
	mech := f.symbol(0)
	if f.err != nil {
		return f.err
	}
	if mech != "ANONYMOUS" && mech != "PLAIN" {
		return fmt.Errorf("sasl: mechanism %q not supported", mech)
	}
	return nil
}
