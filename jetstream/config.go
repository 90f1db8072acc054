package jetstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// Config says how to reach a NATS server with JetStream. Only URLs is
// required; every other field has a documented default.
type Config struct {
	// URLs of the servers, such as "nats://127.0.0.1:4222" or
	// "tls://host:4222". The client picks one and fails over to the others.
	// Required. Credentials embedded in a URL work but are never echoed in
	// errors; prefer the fields below.
	URLs []string

	// Name is the connection name the server shows in its monitoring.
	// Default "pullkit-broker".
	Name string

	// Authentication: at most one of CredsFile (a JWT + seed .creds file),
	// NKeySeedFile (an nkey seed file), Token, or User and Password. None
	// means an unauthenticated connection. A refused credential fails
	// Connect with an error wrapping broker.ErrUnauthenticated; the secret
	// never appears in it.
	CredsFile    string
	NKeySeedFile string
	Token        string
	User         string
	Password     string

	// TLS, when not nil, makes the connection use TLS with this
	// configuration (root CAs, client certificates, ServerName). A tls://
	// URL with TLS nil uses the system roots.
	TLS *tls.Config

	// ConnectTimeout bounds the dial and handshake to one server.
	// Default 5 s; a sooner ctx deadline passed to Connect wins, and
	// canceling Connect's ctx ends it at once (unless NATSOptions bring
	// their own dialer).
	ConnectTimeout time.Duration

	// MaxReconnects is how many times the client tries to reconnect after
	// losing the server before it gives up and closes the connection.
	// Default -1: forever, so consumers ride out server restarts (their
	// Next calls stay bounded by their contexts). 0 means never reconnect.
	MaxReconnects *int

	// ReconnectWait is the pause between reconnect attempts to one server.
	// Default nats.go's 2 s.
	ReconnectWait time.Duration

	// NATSOptions are passed to nats.Connect after the options built from
	// the fields above, so they override them (error handlers, custom
	// dialers, inbox prefixes…).
	NATSOptions []nats.Option

	// JetStreamOptions are passed to jetstream.New (API prefix or domain,
	// async publish limits…).
	JetStreamOptions []natsjs.JetStreamOpt
}

const defaultConnectTimeout = 5 * time.Second

// natsOptions turns the config into nats.go options.
func (c Config) natsOptions(ctx context.Context) ([]nats.Option, error) {
	name := c.Name
	if name == "" {
		name = "pullkit-broker"
	}
	timeout := c.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = max(left, time.Millisecond)
		}
	}
	reconnects := -1
	if c.MaxReconnects != nil {
		reconnects = *c.MaxReconnects
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.MaxReconnects(reconnects),
		// No default handler prints to stderr; errors reach callers through
		// the calls they make.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if c.ReconnectWait > 0 {
		opts = append(opts, nats.ReconnectWait(c.ReconnectWait))
	}
	auth := 0
	if c.CredsFile != "" {
		auth++
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	if c.NKeySeedFile != "" {
		auth++
		o, err := nats.NkeyOptionFromSeed(c.NKeySeedFile)
		if err != nil {
			// The error names the file and the problem, not the seed.
			return nil, fmt.Errorf("%w: NKeySeedFile: %w", broker.ErrInvalidOption, err)
		}
		opts = append(opts, o)
	}
	if c.Token != "" {
		auth++
		opts = append(opts, nats.Token(c.Token))
	}
	if c.User != "" || c.Password != "" {
		auth++
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if auth > 1 {
		return nil, fmt.Errorf("%w: set at most one of CredsFile, NKeySeedFile, Token, User/Password", broker.ErrInvalidOption)
	}
	if c.TLS != nil {
		opts = append(opts, nats.Secure(c.TLS))
	}
	return append(opts, c.NATSOptions...), nil
}

// Client is one connection to NATS with its JetStream context. Publishers
// and consumers made from it share the connection. It is safe for
// concurrent use.
type Client struct {
	nc    *nats.Conn
	js    natsjs.JetStream
	owned bool

	closeOnce sync.Once
}

// Connect opens a connection as cfg says. The caller must Close the
// client after closing the publishers and consumers made from it.
//
// Errors: broker.ErrInvalidOption for a bad cfg, broker.ErrUnauthenticated
// when the server refuses the credentials, broker.ErrUnavailable when no
// server answers in time, ctx's error if it ends first.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(cfg.URLs) == 0 {
		return nil, fmt.Errorf("%w: Config.URLs is empty", broker.ErrInvalidOption)
	}
	opts, err := cfg.natsOptions(ctx)
	if err != nil {
		return nil, err
	}
	timeout := cfg.ConnectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	opts, dialer := withConnectDialer(ctx, opts, timeout)
	nc, err := nats.Connect(strings.Join(cfg.URLs, ","), opts...)
	if dialer != nil {
		dialer.connected()
	}
	if err == nil && ctx.Err() != nil {
		nc.Close() // ctx may have closed its connection mid-handshake
		err = ctx.Err()
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("jetstream: connect: %w", ctx.Err())
		}
		return nil, connectError(err)
	}
	c, err := newClient(nc, true, cfg.JetStreamOptions...)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// connectError classifies a nats.Connect failure. nats.go's errors never
// contain the credentials, and the URLs (which may) are left out.
func connectError(err error) error {
	switch {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired),
		errors.Is(err, nats.ErrAuthRevoked),
		strings.Contains(strings.ToLower(err.Error()), "authorization violation"):
		return fmt.Errorf("%w: jetstream: the server refused the credentials: %w", broker.ErrUnauthenticated, err)
	default:
		return fmt.Errorf("%w: jetstream: connect: %w", broker.ErrUnavailable, err)
	}
}

// NewClient wraps a connection the caller made and keeps owning: Close
// leaves it open.
func NewClient(nc *nats.Conn, opts ...natsjs.JetStreamOpt) (*Client, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil *nats.Conn", broker.ErrInvalidOption)
	}
	return newClient(nc, false, opts...)
}

func newClient(nc *nats.Conn, owned bool, opts ...natsjs.JetStreamOpt) (*Client, error) {
	js, err := natsjs.New(nc, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: jetstream.New: %w", broker.ErrInvalidOption, err)
	}
	return &Client{nc: nc, js: js, owned: owned}, nil
}

// Conn returns the underlying connection, for what this package does not wrap.
func (c *Client) Conn() *nats.Conn { return c.nc }

// JetStream returns the nats.go JetStream context (stream and consumer
// management, key-value, object store).
func (c *Client) JetStream() natsjs.JetStream { return c.js }

// Close flushes what was sent (acks included) for up to 5 s and closes the
// connection if Connect opened it. It is idempotent. Close publishers and
// consumers first: their Close flushes and nacks over this connection.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if !c.owned {
			return
		}
		if !c.nc.IsClosed() {
			_ = c.nc.FlushTimeout(flushTimeout)
		}
		c.nc.Close()
	})
	return nil
}

// flushTimeout bounds the flushes done on Close.
const flushTimeout = 5 * time.Second

// flush waits until the server has read everything sent so far, bounded by
// ctx (FlushWithContext needs a deadline; give it one).
func (c *Client) flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	}
	return mapErr(c.nc.FlushWithContext(ctx))
}
