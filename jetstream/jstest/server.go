// Package jstest runs a nats-server with JetStream inside the calling
// process, for tests, benchmarks and examples of package jetstream. It is
// not a fake: it is the real server (github.com/nats-io/nats-server/v2),
// listening on a random local port and storing streams in a directory the
// caller owns, so the backend talks to it over a real connection.
//
// A known race in nats-server v2.15.2: deleting an account's last stream
// removes its empty streams directory in a goroutine, and a stream
// created at that moment fails with "error creating store for stream".
// Tests that create and delete streams in parallel should keep one stream
// for the server's lifetime (this module's tests do).
//
// Set JSTEST_LOG=1 to see the server's log on stderr.
package jstest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure a Server. The zero value (with StoreDir set) is a plain
// JetStream server on a random port without authentication.
type Options struct {
	// StoreDir is where JetStream keeps its file store. Required: pass
	// t.TempDir() in tests. Restart reuses it, so streams survive.
	StoreDir string

	// Port to listen on; 0 picks a free one (and Restart keeps it).
	Port int

	// User and Password, or Token, turn on authentication.
	User, Password string
	Token          string

	// NKeys, when set, turns on nkey authentication for these public
	// user keys ("U…").
	NKeys []string

	// TLS, when set, makes the server require TLS with this configuration.
	TLS *tls.Config

	// MaxPayload overrides the server's max_payload (default 1 MiB).
	MaxPayload int32

	// ReadyTimeout bounds Start's wait for the server to accept
	// connections. Default 10 s.
	ReadyTimeout time.Duration
}

// Server is an embedded nats-server with JetStream.
type Server struct {
	opts Options

	mu  sync.Mutex
	srv *server.Server
}

// Start starts a server and waits until it accepts connections.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("jstest: Options.StoreDir is required")
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	if opts.Port == 0 {
		// Pick the port once, so that Restart comes back on the same
		// address and clients reconnect to it.
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		opts.Port = p
	}
	s := &Server{opts: opts}
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("jstest: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start() error {
	o := &server.Options{
		Host:       "127.0.0.1",
		Port:       s.opts.Port,
		JetStream:  true,
		StoreDir:   s.opts.StoreDir,
		NoLog:      os.Getenv("JSTEST_LOG") == "",
		NoSigs:     true,
		MaxPayload: s.opts.MaxPayload,
		Username:   s.opts.User,
		Password:   s.opts.Password,
	}
	if s.opts.Token != "" {
		o.Authorization = s.opts.Token
	}
	for _, k := range s.opts.NKeys {
		o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: k})
	}
	if s.opts.TLS != nil {
		o.TLS = true
		o.TLSConfig = s.opts.TLS
		o.TLSTimeout = 5
	}
	srv, err := server.NewServer(o)
	if err != nil {
		return fmt.Errorf("jstest: new server: %w", err)
	}
	if !o.NoLog {
		// JSTEST_LOG=1: the server's log on stderr, for debugging.
		srv.ConfigureLogger()
	}
	srv.Start()
	if !srv.ReadyForConnections(s.opts.ReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("jstest: server not ready after %v", s.opts.ReadyTimeout)
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

// URL is the server's client URL (nats:// or tls://).
func (s *Server) URL() string {
	scheme := "nats"
	if s.opts.TLS != nil {
		scheme = "tls"
	}
	return scheme + "://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.opts.Port))
}

// MaxPayload is the largest message (headers and payload) the server accepts.
func (s *Server) MaxPayload() int {
	if s.opts.MaxPayload > 0 {
		return int(s.opts.MaxPayload)
	}
	return 1 << 20
}

// Shutdown stops the server and waits until it is down; its streams stay
// in StoreDir. Shutdown on a stopped server does nothing.
func (s *Server) Shutdown() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts the server again on the same port and store directory,
// after a Shutdown (or shuts it down first).
func (s *Server) Restart() error {
	s.Shutdown()
	return s.start()
}

// Close is Shutdown, for t.Cleanup and defer.
func (s *Server) Close() error {
	s.Shutdown()
	return nil
}
