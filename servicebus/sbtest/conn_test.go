package sbtest

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// rawConn speaks AMQP by hand to the server, to feed it frames the real
// client never sends.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dialRaw(t *testing.T, srv *Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, r: bufio.NewReader(nc)}
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) expectHeader(want []byte) {
	c.t.Helper()
	got := make([]byte, 8)
	if _, err := io.ReadFull(c.r, got); err != nil || !bytes.Equal(got, want) {
		c.t.Fatalf("protocol header % x (%v), want % x", got, err, want)
	}
}

func (c *rawConn) readPerformative() any {
	c.t.Helper()
	for {
		fr, err := readFrame(c.r, 1<<20)
		if err != nil {
			c.t.Fatalf("readFrame: %v", err)
		}
		if len(fr.body) == 0 {
			continue // heartbeat
		}
		if fr.typ == frameTypeSASL {
			v, _, err := decodeValue(fr.body)
			if err != nil {
				c.t.Fatal(err)
			}
			return v
		}
		p, _, err := decodePerformative(fr.body)
		if err != nil {
			c.t.Fatalf("decodePerformative: %v", err)
		}
		return p
	}
}

// open runs SASL ANONYMOUS and the open exchange (Part 5 §5.3, Part 2
// §2.4.1).
func (c *rawConn) open() {
	c.t.Helper()
	c.write(protoHeaderSASL)
	c.expectHeader(protoHeaderSASL)
	c.readPerformative() // sasl-mechanisms
	c.write(appendFrame(nil, frameTypeSASL, 0, encodeComposite(nil, descSASLInit, symbol("ANONYMOUS"))))
	if f, err := composite(c.readPerformative(), descSASLOutcome, "sasl-outcome"); err != nil || f.ubyte(0) != saslOK {
		c.t.Fatalf("sasl-outcome: %v", err)
	}
	c.write(protoHeaderAMQP)
	c.expectHeader(protoHeaderAMQP)
	c.write(appendFrame(nil, frameTypeAMQP, 0, (&performOpen{ContainerID: "raw", MaxFrameSize: 65536}).encode(nil)))
	if _, ok := c.readPerformative().(*performOpen); !ok {
		c.t.Fatal("no open from the server")
	}
}

// expectCloseWithError reads until the server's close and checks that it
// carries an error, then that the socket ends.
func (c *rawConn) expectCloseWithError(cond symbol) {
	c.t.Helper()
	for {
		p := c.readPerformative()
		cl, ok := p.(*performClose)
		if !ok {
			continue
		}
		if cl.Error == nil || cl.Error.Condition != cond {
			c.t.Fatalf("close error %+v, want %s", cl.Error, cond)
		}
		break
	}
	if _, err := readFrame(c.r, 1<<20); err == nil {
		c.t.Fatal("socket still open after close")
	}
}

func TestMalformedFramesCloseTheConnectionWithAnError(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cases := []struct {
		name  string
		frame []byte
		cond  symbol
	}{
		{"garbage body", appendFrame(nil, frameTypeAMQP, 0, []byte{0xff, 0x01}), condDecodeError},
		{"list claiming more than it holds", appendFrame(nil, frameTypeAMQP, 0, []byte{0x00, 0x53, 0x11, 0xc0, 0xff, 0x05}), condDecodeError},
		{"unknown performative", appendFrame(nil, frameTypeAMQP, 0, []byte{0x00, 0x53, 0x30, 0x45}), condDecodeError},
		{"begin missing mandatory fields", appendFrame(nil, frameTypeAMQP, 0, []byte{0x00, 0x53, 0x11, 0x45}), condDecodeError},
		{"frame above max-frame-size", []byte{0x7f, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00}, condFramingError},
		{"data offset below 2", []byte{0x00, 0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00}, condFramingError},
		{"transfer on a channel without session", appendFrame(nil, frameTypeAMQP, 7,
			(&performTransfer{Handle: 0}).encode(nil)), condNotAllowed},
		{"second open", appendFrame(nil, frameTypeAMQP, 0, (&performOpen{ContainerID: "x"}).encode(nil)), condNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, srv)
			rc.open()
			rc.write(c.frame)
			rc.expectCloseWithError(c.cond)
		})
	}
}

func TestFirstFrameMustBeOpen(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv)
	rc.write(protoHeaderAMQP) // no SASL: allowed by Part 5 §5.1
	rc.expectHeader(protoHeaderAMQP)
	rc.write(appendFrame(nil, frameTypeAMQP, 0, (&performEnd{}).encode(nil)))
	rc.expectCloseWithError(condNotAllowed)
}

func TestUnsupportedProtocolHeaderIsAnsweredAndClosed(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv)
	rc.write([]byte("HTTP/1.1"))
	// Part 2 §2.2: the server answers with a header it supports and closes.
	rc.expectHeader(protoHeaderSASL)
	if _, err := rc.r.ReadByte(); err == nil {
		t.Fatal("socket still open")
	}
}

func TestIdleConnectionGetsHeartbeats(t *testing.T) {
	fast := func(c *config) error { c.heartbeat = 20 * time.Millisecond; return nil }
	srv, err := NewServer(fast)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv)
	rc.open()
	// Part 2 §2.4.5: an empty frame keeps the peer's idle timer quiet.
	_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr, err := readFrame(rc.r, 1<<20)
	if err != nil || len(fr.body) != 0 || fr.typ != frameTypeAMQP {
		t.Fatalf("got frame %+v (%v), want an empty AMQP frame", fr, err)
	}
}

func TestUnsupportedSASLMechanismGetsAuthOutcome(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv)
	rc.write(protoHeaderSASL)
	rc.expectHeader(protoHeaderSASL)
	rc.readPerformative() // sasl-mechanisms
	rc.write(appendFrame(nil, frameTypeSASL, 0, encodeComposite(nil, descSASLInit, symbol("GSSAPI"))))
	// Part 5 §5.3.3.6: code 1 is "auth", authentication failed.
	f, err := composite(rc.readPerformative(), descSASLOutcome, "sasl-outcome")
	if err != nil || f.ubyte(0) != saslAuth {
		t.Fatalf("sasl-outcome %v, %v; want code 1", f, err)
	}
	if _, err := rc.r.ReadByte(); err == nil {
		t.Fatal("socket still open after a failed SASL exchange")
	}
}

func TestAttachWithoutTokenIsRefused(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateQueue("q", nil); err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, srv)
	rc.open()
	rc.write(appendFrame(nil, frameTypeAMQP, 0, (&performBegin{IncomingWindow: 100, OutgoingWindow: 100}).encode(nil)))
	if _, ok := rc.readPerformative().(*performBegin); !ok {
		t.Fatal("no begin from the server")
	}
	attach := &performAttach{Name: "s", Handle: 0, Role: roleSender, Source: &terminus{}, Target: &terminus{Address: "q"}}
	rc.write(appendFrame(nil, frameTypeAMQP, 0, attach.encode(nil)))
	// Part 2 §2.6.3: a refused link is attached without a terminus, then
	// detached with the error.
	a, ok := rc.readPerformative().(*performAttach)
	if !ok || a.Target != nil || a.Role != roleReceiver {
		t.Fatalf("got %+v, want an attach without a target", a)
	}
	d, ok := rc.readPerformative().(*performDetach)
	if !ok || !d.Closed || d.Error == nil || d.Error.Condition != condUnauthorized {
		t.Fatalf("got %+v, want a closing detach with amqp:unauthorized-access", d)
	}
}

// go-amqp ends sessions whose begin it abandoned, possibly before the
// begin was ever sent; the server ignores such an end instead of failing
// the connection.
func TestEndOnUnknownChannelIsIgnored(t *testing.T) {
	srv, err := NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rc := dialRaw(t, srv)
	rc.open()
	rc.write(appendFrame(nil, frameTypeAMQP, 5, (&performEnd{}).encode(nil)))
	// The connection still works: a begin on channel 5 is answered.
	rc.write(appendFrame(nil, frameTypeAMQP, 5, (&performBegin{IncomingWindow: 1, OutgoingWindow: 1}).encode(nil)))
	if b, ok := rc.readPerformative().(*performBegin); !ok || b.RemoteChannel == nil || *b.RemoteChannel != 5 {
		t.Fatalf("got %+v, want begin answering channel 5", b)
	}
}
