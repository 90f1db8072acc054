package sbtest

// This file is fault injection for tests: dropping connections and
// refusing tokens, to exercise a client's recovery paths.

// faults is guarded by Server.mu.
type faults struct {
	refuseTokens int
}

// takeTokenRefusal consumes one pending token refusal.
func (f *faults) takeTokenRefusal() bool {
	if f.refuseTokens > 0 {
		f.refuseTokens--
		return true
	}
	return false
}

// RefuseTokens makes the next n put-token requests fail with status 401,
// whatever their signature. n <= 0 cancels pending refusals.
func (s *Server) RefuseTokens(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.refuseTokens = max(n, 0)
}

// DropConnections closes every client connection abruptly, without an
// AMQP close, as a network failure would. Messages locked through those
// connections stay locked until their lock expires. It returns the number
// of connections dropped.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		// Forget the links now rather than when the reader goroutine
		// notices, so that no message is handed to a dead receiver
		// after DropConnections returns.
		c.closing = true
		for _, sess := range c.sessions {
			sess.detachAll()
		}
		c.sessions = map[uint16]*session{}
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.abort()
	}
	return len(conns)
}

// Connections returns the number of client connections accepted since the
// server started, so a test can see that a client reconnected.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}
