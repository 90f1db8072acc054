package pulsartest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"
)

// ErrClosed is returned by CreateTopic after Close.
var ErrClosed = errors.New("pulsartest: server closed")

// Option configures a Server.
type Option func(*config)

type config struct {
	addr       string
	ackTimeout time.Duration
	logger     *slog.Logger
}

// WithAddr sets the TCP address to listen on. Default "127.0.0.1:0", a random
// loopback port.
func WithAddr(addr string) Option { return func(c *config) { c.addr = addr } }

// WithAckTimeout makes the server redeliver a delivered message that is still
// unacknowledged after d, with its redelivery count incremented. Default 0:
// never. A real Pulsar broker has no such timer (ack timeouts belong to the
// client, and pulsar-client-go v0.19.0 has none), so this is a test aid for
// code that must cope with redelivery of slow messages. The server checks
// every 10 ms, so redelivery happens between d and d+10ms after delivery
// (plus scheduling delays).
func WithAckTimeout(d time.Duration) Option { return func(c *config) { c.ackTimeout = d } }

// WithLogger sends the server's diagnostics (mainly why it closed a
// connection: protocol errors, corrupt messages) to l. Default: discarded.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Server is an in-process Pulsar broker. Create it with NewServer and point
// pulsar-client-go at URL(). All methods are safe for concurrent use.
type Server struct {
	cfg config
	ln  net.Listener
	url string

	// mu guards everything below and all topic, subscription, producer and
	// consumer state: one lock keeps the broker simple and its behaviour
	// easy to reason about, which matters more in a test server than
	// throughput.
	mu          sync.Mutex
	closed      bool
	topics      map[string]*topic
	partitioned map[string]int
	conns       map[*conn]struct{}
	nextLedger  uint64
	nextName    int
	faults      faults
	accepted    int // connections accepted, for tests
	pings       int // PINGs answered, for tests

	done chan struct{}
	wg   sync.WaitGroup
}

// NewServer starts a broker listening on a random loopback port (see
// WithAddr). It starts one goroutine accepting connections, one timer
// goroutine and two per client connection; Close stops them all.
func NewServer(opts ...Option) (*Server, error) {
	cfg := config{addr: "127.0.0.1:0"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.ackTimeout < 0 {
		return nil, fmt.Errorf("pulsartest: negative ack timeout %v", cfg.ackTimeout)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("pulsartest: listen: %w", err)
	}
	s := &Server{
		cfg:         cfg,
		ln:          ln,
		url:         "pulsar://" + ln.Addr().String(),
		topics:      make(map[string]*topic),
		partitioned: make(map[string]int),
		conns:       make(map[*conn]struct{}),
		nextLedger:  1,
		done:        make(chan struct{}),
	}
	s.wg.Add(2)
	go s.acceptLoop()
	go s.timerLoop()
	return s, nil
}

// URL returns the service URL to give pulsar-client-go, for example
// "pulsar://127.0.0.1:41234".
func (s *Server) URL() string { return s.url }

// Close stops the server: it stops accepting, closes every client connection
// and waits for all of the server's goroutines to end. It is idempotent. A
// closed server cannot be restarted; CreateTopic then fails with ErrClosed,
// while Backlog, MessageCount and Subscriptions keep reporting the final
// state.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	// 1. Refuse new work: handlers check s.closed under s.mu.
	s.closed = true
	close(s.done)
	// 2. Stop accepting.
	err := s.ln.Close()
	// 3. Close every connection; each one's goroutines then exit.
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
	// 4. Wait for the accept loop, connection goroutines and the timer.
	s.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.cfg.logger.Warn("pulsartest: accept", "err", err)
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
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

// timerTick is how often timerLoop looks for due work.
const timerTick = 10 * time.Millisecond

// timerLoop does the server's time-driven work: it dispatches delayed
// messages that became due and, with WithAckTimeout, redelivers messages left
// unacknowledged too long.
func (s *Server) timerLoop() {
	defer s.wg.Done()
	t := time.NewTicker(timerTick)
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.mu.Lock()
			for _, tp := range s.topics {
				if !tp.delayed && s.cfg.ackTimeout == 0 {
					continue
				}
				for _, sub := range tp.subs {
					if s.cfg.ackTimeout > 0 {
						sub.expireDeliveries(now.Add(-s.cfg.ackTimeout))
					}
					if tp.delayed {
						sub.dispatch()
					}
				}
			}
			s.mu.Unlock()
		}
	}
}

// fullTopicName expands a short topic name the way clients do:
// "orders" -> "persistent://public/default/orders". Names that already carry a
// domain are returned unchanged.
func fullTopicName(name string) string {
	if strings.Contains(name, "://") {
		return name
	}
	if strings.Count(name, "/") == 2 {
		return "persistent://" + name
	}
	return "persistent://public/default/" + name
}

// partitionName is the name of partition i of a partitioned topic, as
// clients build it.
func partitionName(topic string, i int) string {
	return fmt.Sprintf("%s-partition-%d", topic, i)
}

// CreateTopic creates a topic. With partitions > 0 it is a partitioned topic
// whose partitions are named "<topic>-partition-<i>"; clients discover the
// partitions through partitioned-topic metadata. With partitions == 0 it is an
// ordinary topic (which clients would also create on first use). Creating a
// topic that exists with the same partition count is a no-op.
func (s *Server) CreateTopic(name string, partitions int) error {
	if name == "" || partitions < 0 {
		return fmt.Errorf("pulsartest: invalid topic %q with %d partitions", name, partitions)
	}
	full := fullTopicName(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if n, ok := s.partitioned[full]; ok && n != partitions {
		return fmt.Errorf("pulsartest: topic %q already has %d partitions", name, n)
	}
	if partitions == 0 {
		s.topicLocked(full)
		return nil
	}
	if _, ok := s.topics[full]; ok {
		return fmt.Errorf("pulsartest: topic %q already exists without partitions", name)
	}
	s.partitioned[full] = partitions
	for i := 0; i < partitions; i++ {
		s.topicLocked(partitionName(full, i))
	}
	return nil
}

// topicLocked returns the topic with the given full name, creating it on first
// use as a real broker with topic auto-creation does.
func (s *Server) topicLocked(full string) *topic {
	t, ok := s.topics[full]
	if !ok {
		t = newTopic(full, s.nextLedger, partitionIndex(full))
		s.nextLedger++
		s.topics[full] = t
	}
	return t
}

// Backlog returns how many messages of the topic the subscription has not yet
// acknowledged (for a partitioned topic: summed over its partitions). It
// counts messages, not entries: a batch of 10 with 3 acknowledged counts 7.
func (s *Server) Backlog(topicName, subscription string) (int, error) {
	full := fullTopicName(topicName)
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{full}
	if n := s.partitioned[full]; n > 0 {
		names = names[:0]
		for i := 0; i < n; i++ {
			names = append(names, partitionName(full, i))
		}
	}
	total, found := 0, false
	for _, name := range names {
		t := s.topics[name]
		if t == nil {
			continue
		}
		if sub := t.subs[subscription]; sub != nil {
			found = true
			total += sub.backlog()
		}
	}
	if !found {
		return 0, fmt.Errorf("pulsartest: no subscription %q on topic %q", subscription, topicName)
	}
	return total, nil
}

// MessageCount returns how many messages topic holds (for a partitioned
// topic: summed over its partitions).
func (s *Server) MessageCount(topicName string) int {
	full := fullTopicName(topicName)
	s.mu.Lock()
	defer s.mu.Unlock()
	total := 0
	if t := s.topics[full]; t != nil {
		total += t.messageCount()
	}
	for i := 0; i < s.partitioned[full]; i++ {
		if t := s.topics[partitionName(full, i)]; t != nil {
			total += t.messageCount()
		}
	}
	return total
}

// Subscriptions returns the names of the subscriptions on topic (on any of
// its partitions), in no particular order.
func (s *Server) Subscriptions(topicName string) []string {
	full := fullTopicName(topicName)
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	add := func(t *topic) {
		if t == nil {
			return
		}
		for name := range t.subs {
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	add(s.topics[full])
	for i := 0; i < s.partitioned[full]; i++ {
		add(s.topics[partitionName(full, i)])
	}
	return out
}
