package servicebus

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/pullkit/broker"
)

// Client is one connection to a Service Bus namespace, shared by the
// publishers and queue consumers made from it. Its methods are safe for
// concurrent use.
type Client struct {
	sb *azservicebus.Client

	mu      sync.Mutex
	closed  bool
	closers map[closer]struct{} // open publishers and queues, closed by Close
}

type closer interface{ Close() error }

// NewClient builds a client from cfg. It does not connect: the connection
// (and the credential check) happens on the first send or receive, whose
// error then wraps broker.ErrUnauthenticated, broker.ErrNotFound or
// broker.ErrUnavailable as the case may be.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var (
		sb  *azservicebus.Client
		err error
	)
	if cfg.ConnectionString != "" {
		sb, err = azservicebus.NewClientFromConnectionString(cfg.ConnectionString, cfg.ClientOptions)
	} else {
		sb, err = azservicebus.NewClient(cfg.Namespace, cfg.Credential, cfg.ClientOptions)
	}
	if err != nil {
		// The SDK's parse errors name the missing field, never its value.
		return nil, fmt.Errorf("%w: servicebus: %w", broker.ErrInvalidOption, err)
	}
	return &Client{sb: sb, closers: map[closer]struct{}{}}, nil
}

// Native returns the azservicebus client underneath, for what this package
// does not cover (sessions, scheduling, peeking). Closing it closes this
// Client's links too.
func (c *Client) Native() *azservicebus.Client { return c.sb }

func (c *Client) track(x closer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("servicebus: client: %w", broker.ErrClosed)
	}
	c.closers[x] = struct{}{}
	return nil
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Client) untrack(x closer) {
	c.mu.Lock()
	delete(c.closers, x)
	c.mu.Unlock()
}

// Close closes every publisher and queue consumer made from the client
// (queues abandon the messages they hold, as Queue.Close says), then the
// connection. It is idempotent; ctx bounds the connection's close.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := make([]closer, 0, len(c.closers))
	for x := range c.closers {
		open = append(open, x)
	}
	c.mu.Unlock()
	var errs []error
	for _, x := range open {
		errs = append(errs, x.Close())
	}
	if err := c.sb.Close(ctx); err != nil {
		errs = append(errs, wrapErr("close client", err))
	}
	return errors.Join(errs...)
}
