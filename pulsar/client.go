package pulsar

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	pc "github.com/apache/pulsar-client-go/pulsar"

	"github.com/pullkit/broker"
)

// Client is a connection to a Pulsar cluster, shared by the publishers and
// consumers made from it. It is safe for concurrent use.
type Client struct {
	native pc.Client
	cfg    Config

	mu     sync.Mutex
	closed bool
	open   map[io.Closer]struct{} // publishers and consumers not yet closed
	wg     sync.WaitGroup         // subscriptions abandoned by a canceled ctx
}

// NewClient creates a client for cfg. It does not connect yet: the first
// producer or consumer does. A bad cfg fails with broker.ErrInvalidOption.
func NewClient(cfg Config) (*Client, error) {
	o, err := cfg.clientOptions()
	if err != nil {
		return nil, err
	}
	native, err := pc.NewClient(o)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", broker.ErrInvalidOption, err)
	}
	return &Client{native: native, cfg: cfg, open: make(map[io.Closer]struct{})}, nil
}

// Native returns the underlying pulsar-client-go client, for what this
// package does not wrap (readers, admin-like calls, schemas). Do not close it:
// Client.Close does.
func (c *Client) Native() pc.Client { return c.native }

// track registers x to be closed by Client.Close; it fails with ErrClosed
// once the client is closed.
func (c *Client) track(x io.Closer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: pulsar client", broker.ErrClosed)
	}
	c.open[x] = struct{}{}
	return nil
}

func (c *Client) untrack(x io.Closer) {
	c.mu.Lock()
	delete(c.open, x)
	c.mu.Unlock()
}

// Close closes every publisher and consumer made from the client that is
// still open (publishers flush, consumers flush their acknowledgements;
// nothing is unsubscribed), waits for subscriptions that a canceled ctx
// abandoned, and closes the connection. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := make([]io.Closer, 0, len(c.open))
	for x := range c.open {
		open = append(open, x)
	}
	c.mu.Unlock()
	var errs []error
	for _, x := range open {
		errs = append(errs, x.Close())
	}
	c.wg.Wait()
	c.native.Close()
	return errors.Join(errs...)
}

// subscribe calls the client's Subscribe, which takes no context, on a
// goroutine, so that ctx can end the wait. A consumer created after the
// caller gave up is closed at once; Client.Close waits for that goroutine.
func (c *Client) subscribe(ctx context.Context, o pc.ConsumerOptions) (pc.Consumer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: pulsar client", broker.ErrClosed)
	}
	c.wg.Add(1)
	c.mu.Unlock()
	type result struct {
		cons pc.Consumer
		err  error
	}
	ch := make(chan result)
	abandon := make(chan struct{})
	go func() {
		defer c.wg.Done()
		cons, err := c.native.Subscribe(o)
		select {
		case ch <- result{cons, err}:
		case <-abandon:
			if cons != nil {
				cons.Close()
			}
		}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, classify(fmt.Sprintf("subscribe %q to %q", o.SubscriptionName, o.Topic), r.err)
		}
		return r.cons, nil
	case <-ctx.Done():
		close(abandon)
		return nil, ctx.Err()
	}
}
