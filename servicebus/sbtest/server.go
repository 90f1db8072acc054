package sbtest

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrClosed is returned by test-API calls made after Close.
var ErrClosed = errors.New("sbtest: server closed")

// ErrNotFound is returned when an entity named in a test-API call does not
// exist.
var ErrNotFound = errors.New("sbtest: entity not found")

// ErrExists is returned when creating an entity whose name is taken.
var ErrExists = errors.New("sbtest: entity already exists")

// Defaults, chosen to match the Service Bus emulator's documented defaults
// (60 s lock, max delivery count 10, 256 KiB messages) so that tests
// written against sbtest behave like tests against the emulator.
const (
	DefaultLockDuration     = 60 * time.Second
	DefaultMaxDeliveryCount = 10
	DefaultMaxMessageSize   = 256 * 1024
	DefaultKeyName          = "RootManageSharedAccessKey"
)

// config is what Options set.
type config struct {
	addr           string
	keyName        string
	key            string
	maxMessageSize uint64
	tick           time.Duration // janitor period
	skew           time.Duration // added to the times the server reports
	heartbeat      time.Duration // idle period after which the writer sends an empty frame
}

// Option configures a Server.
type Option func(*config) error

// WithSharedAccessKey sets the SAS key name and key the server accepts and
// puts in ConnectionString. Default: DefaultKeyName and a random key, so
// only clients built from ConnectionString get in. Empty values are an
// error.
func WithSharedAccessKey(name, key string) Option {
	return func(c *config) error {
		if name == "" || key == "" {
			return errors.New("sbtest: WithSharedAccessKey needs a name and a key")
		}
		c.keyName, c.key = name, key
		return nil
	}
}

// WithAddress sets the listen address. Default "127.0.0.1:0" (a random
// loopback port). Trap: the emulator connection string carries the host,
// so an address that clients cannot reach by that name will not work.
func WithAddress(addr string) Option {
	return func(c *config) error {
		c.addr = addr
		return nil
	}
}

// WithMaxMessageSize sets the max-message-size announced on every link,
// which also bounds NewMessageBatch. Default DefaultMaxMessageSize; it
// must be at least 1024.
func WithMaxMessageSize(n uint64) Option {
	return func(c *config) error {
		if n < 1024 {
			return fmt.Errorf("sbtest: max message size %d below 1024", n)
		}
		c.maxMessageSize = n
		return nil
	}
}

// WithClockSkew makes the server report the times it sends (a message's
// locked-until and enqueued time, the expirations of lock renewals) d away
// from its own clock, as a namespace whose clock disagrees with the
// client's: a negative d is a client whose clock runs ahead. Locks still
// expire by the server's own clock. Default 0.
func WithClockSkew(d time.Duration) Option {
	return func(c *config) error {
		c.skew = d
		return nil
	}
}

// Server is an in-process AMQP 1.0 server with Service Bus semantics. All
// methods are safe for concurrent use.
type Server struct {
	cfg config
	ln  net.Listener

	// mu guards every piece of protocol and entity state: connections,
	// sessions, links, queues and messages. One lock keeps the model
	// simple; network writes never happen under it (frames are queued to
	// each connection's writer goroutine), so holding it is always short.
	mu        sync.Mutex
	closed    bool
	conns     map[*conn]struct{}
	queues    map[string]*queue // by lower-cased path, incl. subscriptions and DLQs
	topics    map[string]*topic // by lower-cased name
	accepted  int
	renewals  int // lock-renewal requests answered, for LockRenewals
	faults    faults
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// NewServer starts a server listening on a random loopback port (see
// WithAddress). It starts two goroutines, the accept loop and the janitor
// that expires locks and enqueues scheduled messages, plus two per client
// connection; Close stops them all.
func NewServer(opts ...Option) (*Server, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	cfg := config{
		addr:           "127.0.0.1:0",
		keyName:        DefaultKeyName,
		key:            base64.StdEncoding.EncodeToString(key),
		maxMessageSize: DefaultMaxMessageSize,
		tick:           10 * time.Millisecond,
		heartbeat:      heartbeatEvery,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("sbtest: listen: %w", err)
	}
	s := &Server{
		cfg:    cfg,
		ln:     ln,
		conns:  map[*conn]struct{}{},
		queues: map[string]*queue{},
		topics: map[string]*topic{},
		stop:   make(chan struct{}),
	}
	s.wg.Add(2)
	go s.acceptLoop()
	go s.janitor()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ConnectionString returns an emulator connection string for the server:
// plain TCP, SASL ANONYMOUS, then a SAS token checked on $cbs.
func (s *Server) ConnectionString() string {
	return s.ConnectionStringWithKey(s.cfg.keyName, s.cfg.key)
}

// ConnectionStringWithKey is ConnectionString with another key name and
// key, for testing that wrong credentials are refused.
func (s *Server) ConnectionStringWithKey(name, key string) string {
	return fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true",
		s.Addr(), name, key)
}

// Close stops accepting, drops every connection and waits for every
// goroutine the server started. It is idempotent; later calls return nil.
// Entities and messages are discarded with the server.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		// 1. Refuse new work.
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		// 2. Stop the accept loop and the janitor.
		_ = s.ln.Close()
		close(s.stop)
		// 3. Drop connections; their goroutines notice and exit.
		for _, c := range conns {
			c.abort()
		}
		// 4. Wait for all of them.
		s.wg.Wait()
	})
	return nil
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return // listener closed by Close
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.accepted++
		s.wg.Add(2)
		s.mu.Unlock()
		go c.readLoop()
		go c.writeLoop()
	}
}

// janitor expires locks and enqueues scheduled messages on a short tick.
// A tick (rather than a timer per message) keeps one goroutine for the
// whole server; 10 ms is far below any lock duration a test would use.
func (s *Server) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.sweep(now)
		}
	}
}

// sweep runs one janitor pass. A panic here would take down the test
// binary of whoever uses sbtest, so it is contained like the frame
// handlers' (and would only ever come from a bug in this package).
func (s *Server) sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { _ = recover() }()
	for _, q := range s.queues {
		q.expire(now)
	}
}

// removeConn forgets a finished connection.
func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// LockRenewals returns how many message locks clients asked the server to
// renew (one per lock token of each renew-lock request), so a test can see
// how often a client renews.
func (s *Server) LockRenewals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.renewals
}
