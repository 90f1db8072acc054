package pulsartest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pullkit/broker/pulsar/pulsartest/internal/wire"
)

// serverVersion is reported in CONNECTED.
const serverVersion = "pulsartest"

// protocolVersion is the highest protocol version the server claims: 20,
// the version pulsar-client-go v0.19.0 speaks. See ProtocolVersion in the
// protocol specification.
const protocolVersion = 20

// conn is one client connection. readLoop decodes and handles commands one at
// a time, in order; writeLoop sends queued frames. Handlers run under s.mu and
// must never block on the network, so outgoing frames go through an unbounded
// queue drained by writeLoop.
type conn struct {
	s  *Server
	nc net.Conn

	// Guarded by s.mu.
	connected bool
	producers map[uint64]*producer
	consumers map[uint64]*consumer

	qmu       sync.Mutex
	queue     [][]byte
	closeSent bool // close once the queue is written
	wake      chan struct{}

	closeOnce sync.Once
	done      chan struct{}
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		s:         s,
		nc:        nc,
		producers: make(map[uint64]*producer),
		consumers: make(map[uint64]*consumer),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// close closes the socket at once; both loops then end.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// send queues a command (and payload, for MESSAGE) for writeLoop.
func (c *conn) send(cmd *wire.BaseCommand, payload []byte) {
	b, err := encodeFrame(cmd, payload)
	if err != nil {
		c.s.cfg.logger.Error("pulsartest: dropping connection after encoding failure", "err", err)
		c.close()
		return
	}
	c.qmu.Lock()
	if !c.closeSent {
		c.queue = append(c.queue, b)
	}
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// sendAndClose queues a last command; the connection is closed after it was
// written. Later sends are dropped.
func (c *conn) sendAndClose(cmd *wire.BaseCommand) {
	c.send(cmd, nil)
	c.qmu.Lock()
	c.closeSent = true
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer func() {
		// The connection stays listed until now so that Close can still
		// unblock a final flush to a peer that stopped reading.
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	}()
	w := bufio.NewWriter(c.nc)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		c.qmu.Lock()
		q, last := c.queue, c.closeSent
		c.queue = nil
		c.qmu.Unlock()
		if last {
			// Do not let a peer that stopped reading hold the goroutine.
			_ = c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		}
		for _, b := range q {
			if _, err := w.Write(b); err != nil {
				c.close()
				return
			}
		}
		if err := w.Flush(); err != nil {
			c.close()
			return
		}
		if last {
			c.close()
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer c.cleanup()
	r := bufio.NewReader(c.nc)
	for {
		f, err := readFrame(r)
		if err != nil {
			if errors.Is(err, errProtocol) {
				c.protocolError(0, err)
			}
			// Otherwise the peer went away or Close closed the socket.
			return
		}
		if !c.handle(f) {
			return
		}
	}
}

// protocolError answers input the server cannot accept with an ERROR and
// closes the connection, as a real broker does.
func (c *conn) protocolError(requestID uint64, err error) {
	c.s.cfg.logger.Warn("pulsartest: closing connection after protocol error", "remote", c.nc.RemoteAddr(), "err", err)
	c.sendAndClose(&wire.BaseCommand{
		Type: wire.BaseCommand_ERROR.Enum(),
		Error: &wire.CommandError{
			RequestId: proto.Uint64(requestID),
			Error:     wire.ServerError_UnknownError.Enum(),
			Message:   proto.String(err.Error()),
		},
	})
}

// cleanup runs when the connection ends: its producers go away and its
// consumers' unacknowledged messages are redelivered to other consumers.
func (c *conn) cleanup() {
	c.qmu.Lock()
	flushing := c.closeSent
	c.qmu.Unlock()
	if !flushing {
		c.close()
	} // else writeLoop closes the socket once the last frame is out.
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range c.producers {
		p.remove()
	}
	for _, cs := range c.consumers {
		cs.detach(true)
	}
	c.producers = nil
	c.consumers = nil
}

// handle handles one command; it returns false when the connection must end.
func (c *conn) handle(f frame) bool {
	s := c.s
	cmd := f.cmd
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if !c.connected && cmd.GetType() != wire.BaseCommand_CONNECT {
		c.protocolError(0, fmt.Errorf("%w: %v before CONNECT", errProtocol, cmd.GetType()))
		return false
	}
	if f.payload != nil && cmd.GetType() != wire.BaseCommand_SEND {
		c.protocolError(0, fmt.Errorf("%w: payload after %v", errProtocol, cmd.GetType()))
		return false
	}
	var err error
	switch cmd.GetType() {
	case wire.BaseCommand_CONNECT:
		err = c.handleConnect(cmd.GetConnect())
	case wire.BaseCommand_PING:
		s.pings++
		c.send(&wire.BaseCommand{Type: wire.BaseCommand_PONG.Enum(), Pong: &wire.CommandPong{}}, nil)
	case wire.BaseCommand_PONG:
		// Answer to a PING; the server sends none, but a client may.
	case wire.BaseCommand_PARTITIONED_METADATA:
		err = c.handlePartitionedMetadata(cmd.GetPartitionMetadata())
	case wire.BaseCommand_LOOKUP:
		err = c.handleLookup(cmd.GetLookupTopic())
	case wire.BaseCommand_PRODUCER:
		err = c.handleProducer(cmd.GetProducer())
	case wire.BaseCommand_SEND:
		err = c.handleSend(cmd.GetSend(), f.payload)
	case wire.BaseCommand_CLOSE_PRODUCER:
		err = c.handleCloseProducer(cmd.GetCloseProducer())
	case wire.BaseCommand_SUBSCRIBE:
		err = c.handleSubscribe(cmd.GetSubscribe())
	case wire.BaseCommand_FLOW:
		err = c.handleFlow(cmd.GetFlow())
	case wire.BaseCommand_ACK:
		err = c.handleAck(cmd.GetAck())
	case wire.BaseCommand_REDELIVER_UNACKNOWLEDGED_MESSAGES:
		err = c.handleRedeliver(cmd.GetRedeliverUnacknowledgedMessages())
	case wire.BaseCommand_CLOSE_CONSUMER:
		err = c.handleCloseConsumer(cmd.GetCloseConsumer())
	case wire.BaseCommand_UNSUBSCRIBE:
		err = c.handleUnsubscribe(cmd.GetUnsubscribe())
	case wire.BaseCommand_SEEK:
		err = c.handleSeek(cmd.GetSeek())
	case wire.BaseCommand_GET_LAST_MESSAGE_ID:
		err = c.handleGetLastMessageID(cmd.GetGetLastMessageId())
	default:
		err = fmt.Errorf("%w: unsupported command %v", errProtocol, cmd.GetType())
	}
	if err != nil {
		c.protocolError(0, err)
		return false
	}
	c.qmu.Lock()
	closing := c.closeSent
	c.qmu.Unlock()
	return !closing
}

// missing reports a command whose sub-message is absent although its type
// names it.
func missing(t wire.BaseCommand_Type) error {
	return fmt.Errorf("%w: %v without its command body", errProtocol, t)
}

func (c *conn) handleConnect(cmd *wire.CommandConnect) error {
	if cmd == nil {
		return missing(wire.BaseCommand_CONNECT)
	}
	if c.connected {
		return fmt.Errorf("%w: second CONNECT", errProtocol)
	}
	c.connected = true
	v := cmd.GetProtocolVersion()
	if v > protocolVersion {
		v = protocolVersion
	}
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_CONNECTED.Enum(),
		Connected: &wire.CommandConnected{
			ServerVersion:   proto.String(serverVersion),
			ProtocolVersion: proto.Int32(v),
			MaxMessageSize:  proto.Int32(maxMessageSize),
		},
	}, nil)
	return nil
}

// success answers a request with SUCCESS.
func (c *conn) success(requestID uint64) {
	c.send(&wire.BaseCommand{
		Type:    wire.BaseCommand_SUCCESS.Enum(),
		Success: &wire.CommandSuccess{RequestId: proto.Uint64(requestID)},
	}, nil)
}

// requestError answers a request with ERROR; the connection stays open.
func (c *conn) requestError(requestID uint64, code wire.ServerError, format string, args ...any) {
	c.send(&wire.BaseCommand{
		Type: wire.BaseCommand_ERROR.Enum(),
		Error: &wire.CommandError{
			RequestId: proto.Uint64(requestID),
			Error:     code.Enum(),
			Message:   proto.String(fmt.Sprintf(format, args...)),
		},
	}, nil)
}

var _ io.Closer = (*Server)(nil)
