package kafka

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// dialer dials brokers for franz-go, doing TLS itself, and makes the
// connections opened while a constructor checks the cluster honour the
// constructor's context: franz-go bounds the first request on a new
// connection by its dial timeout only, so a broker that accepts and never
// answers would hold a constructor well past its deadline.
type dialer struct {
	net net.Dialer
	tls *tls.Config

	mu     sync.Mutex
	armCtx context.Context // the constructor's ctx, until disarm
	stops  []func() bool
}

func (d *dialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	c, err := d.net.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	if d.tls != nil {
		cfg := d.tls.Clone()
		if cfg.ServerName == "" {
			if h, _, err := net.SplitHostPort(host); err == nil {
				cfg.ServerName = h
			}
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		c = tc
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.armCtx == nil {
		return c, nil
	}
	cc := &ctxConn{Conn: c}
	d.stops = append(d.stops, context.AfterFunc(d.armCtx, cc.kill))
	return cc, nil
}

// arm makes connections dialed from now on die when ctx ends.
func (d *dialer) arm(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armCtx = ctx
}

// disarm lets the connections dialed while armed outlive the ctx.
func (d *dialer) disarm() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.armCtx = nil
	for _, stop := range d.stops {
		stop()
	}
	d.stops = nil
}

// ctxConn is a connection that kill makes fail every read and write at
// once, even if franz-go sets a new deadline afterwards.
type ctxConn struct {
	net.Conn
	mu   sync.Mutex
	dead bool
}

var past = time.Unix(1, 0)

func (c *ctxConn) kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dead = true
	c.Conn.SetDeadline(past)
}

func (c *ctxConn) SetDeadline(t time.Time) error      { return c.set(c.Conn.SetDeadline, t) }
func (c *ctxConn) SetReadDeadline(t time.Time) error  { return c.set(c.Conn.SetReadDeadline, t) }
func (c *ctxConn) SetWriteDeadline(t time.Time) error { return c.set(c.Conn.SetWriteDeadline, t) }

func (c *ctxConn) set(f func(time.Time) error, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dead {
		t = past
	}
	return f(t)
}
