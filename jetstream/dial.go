package jetstream

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// connectDialer dials like nats.go's default dialer, and while Connect
// runs it ties each connection to Connect's context: nats.Connect takes
// no context and waits up to ConnectTimeout per server (for the dial, the
// TLS handshake and the server's greeting), so a canceled context closes
// the connection under it instead. Once Connect returns, dials (the
// reconnects) are plain again.
type connectDialer struct {
	timeout time.Duration

	mu    sync.Mutex
	ctx   context.Context // nil once Connect returned
	stops []func() bool
}

func (d *connectDialer) Dial(network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		return nd.Dial(network, address)
	}
	conn, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx == nil {
		stop()
	} else {
		d.stops = append(d.stops, stop)
	}
	return conn, nil
}

// connected unties the connections from Connect's context.
func (d *connectDialer) connected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
	d.ctx, d.stops = nil, nil
}

// withConnectDialer adds a connectDialer to opts, unless they choose how
// to connect themselves (a dialer, multipath TCP, an in-process server).
func withConnectDialer(ctx context.Context, opts []nats.Option, timeout time.Duration) ([]nats.Option, *connectDialer) {
	var probe nats.Options
	for _, o := range opts {
		_ = o(&probe)
	}
	//lint:ignore SA1019 a user's (deprecated) nats.Dialer option must keep working
	if probe.Dialer != nil || probe.CustomDialer != nil || probe.AllowMultipathTCP != nil || probe.InProcessServer != nil {
		return opts, nil
	}
	d := &connectDialer{timeout: timeout, ctx: ctx}
	return append(opts, nats.SetCustomDialer(d)), d
}
