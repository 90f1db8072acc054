package sbtest

// This file is fault injection for tests: dropping connections, refusing
// tokens or sends and leaving settlements unanswered, to exercise a
// client's recovery paths.

// faults is guarded by Server.mu.
type faults struct {
	refuseTokens int
	sendsBefore  int // sends still accepted before refusing
	refuseSends  int // sends to refuse after those
	ignoreSettle int // settlements on receiver links to leave unanswered
	ignoreRenew  int // renew-lock requests to leave unanswered
}

// takeSendRefusal counts one send (a message or a batch) and says whether
// to refuse it.
func (f *faults) takeSendRefusal() bool {
	if f.refuseSends == 0 {
		return false
	}
	if f.sendsBefore > 0 {
		f.sendsBefore--
		return false
	}
	f.refuseSends--
	return true
}

// RefuseSends lets the next `after` sends through, then refuses the n
// after them with amqp:resource-limit-exceeded, as Service Bus refuses a
// send to a full entity (the client does not retry it). A send is one
// transfer: one message, or one whole batch of SendMessageBatch. n <= 0
// cancels pending refusals.
func (s *Server) RefuseSends(after, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.sendsBefore, s.faults.refuseSends = max(after, 0), max(n, 0)
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

// takeSettleIgnore consumes one pending settlement to ignore.
func (f *faults) takeSettleIgnore() bool {
	if f.ignoreSettle > 0 {
		f.ignoreSettle--
		return true
	}
	return false
}

// IgnoreSettlements leaves the next n settlements that clients send on
// receiver links (complete, abandon, dead-letter, defer, release: the
// disposition of a delivery) unapplied and unanswered, as a namespace
// that stopped responding would: the client's settle call waits until its
// ctx ends, and the message stays locked until its lock expires. n <= 0
// cancels pending ones.
func (s *Server) IgnoreSettlements(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.ignoreSettle = max(n, 0)
}

// takeRenewIgnore consumes one pending renew-lock request to ignore.
func (f *faults) takeRenewIgnore() bool {
	if f.ignoreRenew > 0 {
		f.ignoreRenew--
		return true
	}
	return false
}

// IgnoreLockRenewals leaves the next n renew-lock requests unapplied and
// unanswered: the client's RenewMessageLock waits until its ctx ends and
// the lock runs out as if never renewed. n <= 0 cancels pending ones.
func (s *Server) IgnoreLockRenewals(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.ignoreRenew = max(n, 0)
}
