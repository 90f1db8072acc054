package sbtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// This file is one client connection: the open/close exchange (§2.4), the
// reader goroutine that decodes frames and applies them under Server.mu,
// and the writer goroutine that owns the socket's write side.

const (
	// heartbeatEvery keeps the client's idle timer quiet: go-amqp drops a
	// connection that has been silent for 60 s (wire-facts S1), and it
	// announces 30 s as its idle-time-out, so the server must speak at
	// least every 30 s. 10 s leaves a wide margin.
	heartbeatEvery = 10 * time.Second
	// handshakeTimeout bounds the protocol-header and SASL exchange so a
	// silent socket cannot pin a goroutine until Close.
	handshakeTimeout = 10 * time.Second
	// writeTimeout bounds one socket write, so a client that stops reading
	// cannot block the writer goroutine forever.
	writeTimeout = 10 * time.Second
)

// errConnClosing is returned by the frame handler once the connection has
// been closed by either side; the reader then stops.
var errConnClosing = errors.New("amqp: connection closing")

// connError is a protocol violation that closes the connection with an
// AMQP error (§2.8.15 conditions).
type connError struct {
	cond symbol
	desc string
}

func (e *connError) Error() string { return string(e.cond) + ": " + e.desc }

func protoErr(cond symbol, format string, args ...any) error {
	return &connError{cond: cond, desc: fmt.Sprintf(format, args...)}
}

type conn struct {
	srv *Server
	nc  net.Conn

	// Outbox, guarded by outMu, drained by writeLoop. Frames are queued
	// rather than written so that Server.mu is never held across I/O.
	outMu   sync.Mutex
	out     [][]byte
	wake    chan struct{}
	done    chan struct{} // closed when the reader has finished
	abortMu sync.Once

	// Protocol state, guarded by srv.mu.
	opened       bool
	closing      bool
	peerMaxFrame uint32
	sessions     map[uint16]*session
	replyLinks   map[string]*link // client receiver links by target address ($cbs/$management replies)
	authorized   map[string]bool  // lower-cased entity paths granted by put-token
}

func newConn(s *Server, nc net.Conn) *conn {
	return &conn{
		srv:          s,
		nc:           nc,
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		peerMaxFrame: serverMaxFrameSize,
		sessions:     map[uint16]*session{},
		replyLinks:   map[string]*link{},
		authorized:   map[string]bool{},
	}
}

// abort closes the socket without ceremony (Server.Close and the
// dropped-connection fault); both goroutines then exit.
func (c *conn) abort() {
	c.abortMu.Do(func() { _ = c.nc.Close() })
}

// send queues an encoded frame for the writer.
func (c *conn) send(fr []byte) {
	c.outMu.Lock()
	c.out = append(c.out, fr)
	c.outMu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// sendPerformative encodes and queues one frame on channel ch.
func (c *conn) sendPerformative(ch uint16, p interface{ encode([]byte) []byte }) {
	c.send(appendFrame(nil, frameTypeAMQP, ch, p.encode(nil)))
}

// writeLoop writes queued frames and a heartbeat whenever nothing else was
// written for heartbeatEvery. It ends once the reader has finished and the
// outbox is flushed, closing the socket.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	defer c.abort()
	t := time.NewTicker(c.srv.cfg.heartbeat)
	defer t.Stop()
	wroteSince := false
	flush := func() bool {
		c.outMu.Lock()
		frames := c.out
		c.out = nil
		c.outMu.Unlock()
		if len(frames) == 0 {
			return true
		}
		var buf []byte
		for _, f := range frames {
			buf = append(buf, f...)
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.nc.Write(buf); err != nil {
			c.abort()
			return false
		}
		wroteSince = true
		return true
	}
	for {
		select {
		case <-c.wake:
			if !flush() {
				return
			}
		case <-t.C:
			if !wroteSince {
				c.send(heartbeat)
				if !flush() {
					return
				}
			}
			wroteSince = false
		case <-c.done:
			flush()
			return
		}
	}
}

// readLoop runs the handshake, then decodes and applies frames until the
// connection ends. A malformed frame closes the connection with an AMQP
// error (never a panic): see handleFrame.
func (c *conn) readLoop() {
	defer c.srv.wg.Done()
	defer close(c.done)
	defer c.teardown()

	_ = c.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := handshake(c.nc); err != nil {
		return
	}
	_ = c.nc.SetDeadline(time.Time{})

	r := bufio.NewReaderSize(c.nc, 64*1024)
	for {
		fr, err := readFrame(r, serverMaxFrameSize)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) {
				return
			}
			c.srv.mu.Lock()
			c.closeWithError(condFramingError, err.Error())
			c.srv.mu.Unlock()
			return
		}
		c.srv.mu.Lock()
		err = c.handleFrameSafely(fr)
		c.srv.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// handleFrameSafely turns a protocol error, and as a last line of defence a
// panic in a handler, into a connection close with an error, so that no
// input can take the test binary down.
func (c *conn) handleFrameSafely(fr frame) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.closeWithError(condInternal, fmt.Sprintf("internal error: %v", r))
			err = errConnClosing
		}
	}()
	err = c.handleFrame(fr)
	var ce *connError
	if errors.As(err, &ce) {
		c.closeWithError(ce.cond, ce.desc)
	}
	return err
}

// closeWithError sends close with an error (§2.4.3) and stops reading.
func (c *conn) closeWithError(cond symbol, desc string) {
	if c.closing {
		return
	}
	c.closing = true
	c.sendPerformative(0, &performClose{Error: &amqpError{Condition: cond, Description: desc}})
}

// handleFrame applies one frame. Called with srv.mu held.
func (c *conn) handleFrame(fr frame) error {
	if c.closing {
		return errConnClosing
	}
	if fr.typ != frameTypeAMQP {
		return protoErr(condFramingError, "frame type %d after SASL", fr.typ)
	}
	if len(fr.body) == 0 {
		return nil // heartbeat (§2.4.5)
	}
	p, payload, err := decodePerformative(fr.body)
	if err != nil {
		return protoErr(condDecodeError, "%v", err)
	}
	if !c.opened {
		o, ok := p.(*performOpen)
		if !ok {
			return protoErr(condNotAllowed, "first frame must be open")
		}
		return c.onOpen(o)
	}
	switch p := p.(type) {
	case *performOpen:
		return protoErr(condNotAllowed, "second open")
	case *performClose:
		// §2.4.3: answer close with close, then the socket goes.
		c.closing = true
		c.sendPerformative(0, &performClose{})
		return errConnClosing
	case *performBegin:
		return c.onBegin(fr.channel, p)
	}
	s := c.sessions[fr.channel]
	if s == nil {
		if _, ok := p.(*performEnd); ok {
			// go-amqp sends end on the channel of a session whose begin
			// was cancelled, even when the begin never left the client
			// (Conn.freeAbandonedSessions). Nothing to end; answering
			// would confuse the client, which expects no reply.
			return nil
		}
		return protoErr(condNotAllowed, "%s on channel %d without a session", performativeName(p), fr.channel)
	}
	switch p := p.(type) {
	case *performEnd:
		s.onEnd()
		return nil
	case *performAttach:
		return s.onAttach(p)
	case *performFlow:
		return s.onFlow(p)
	case *performTransfer:
		return s.onTransfer(p, payload)
	case *performDisposition:
		return s.onDisposition(p)
	case *performDetach:
		return s.onDetach(p)
	}
	return protoErr(condNotAllowed, "unexpected performative %T", p)
}

func (c *conn) onOpen(o *performOpen) error {
	if o.MaxFrameSize < minMaxFrameSize {
		return protoErr(condNotAllowed, "max-frame-size %d below 512", o.MaxFrameSize)
	}
	c.opened = true
	c.peerMaxFrame = min(o.MaxFrameSize, serverMaxFrameSize)
	c.sendPerformative(0, &performOpen{
		ContainerID:  "sbtest",
		Hostname:     o.Hostname,
		MaxFrameSize: serverMaxFrameSize,
		ChannelMax:   65535,
	})
	return nil
}

func (c *conn) onBegin(ch uint16, b *performBegin) error {
	if b.RemoteChannel != nil {
		return protoErr(condNotAllowed, "begin with remote-channel: the server never begins sessions")
	}
	if c.sessions[ch] != nil {
		return protoErr(condNotAllowed, "channel %d already has a session", ch)
	}
	s := newSession(c, ch, b)
	c.sessions[ch] = s
	// The server answers on the same channel number the client chose;
	// channels are per direction (§2.5.1), so reusing it is allowed.
	remote := ch
	c.sendPerformative(ch, &performBegin{
		RemoteChannel:  &remote,
		NextOutgoingID: 0,
		IncomingWindow: sessionIncomingWindow,
		OutgoingWindow: sessionIncomingWindow,
		HandleMax:      ^uint32(0),
	})
	return nil
}

// teardown forgets every session and link of a finished connection. Locks
// held by its receivers stay until they expire (links the client closed
// gracefully before released theirs, see session.releaseUnsettled).
func (c *conn) teardown() {
	c.srv.mu.Lock()
	for _, s := range c.sessions {
		s.detachAll()
	}
	c.sessions = map[uint16]*session{}
	c.srv.mu.Unlock()
	c.srv.removeConn(c)
}
