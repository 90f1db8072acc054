package pulsartest

// faults holds injected failures; guarded by Server.mu.
type faults struct {
	rejectSends int
	// blocked names producers whose next registration is refused, the second
	// half of a send rejection.
	blocked map[string]bool
}

func (f *faults) takeSendRejection(producerName string) bool {
	if f.rejectSends <= 0 {
		return false
	}
	f.rejectSends--
	if f.blocked == nil {
		f.blocked = make(map[string]bool)
	}
	f.blocked[producerName] = true
	return true
}

func (f *faults) takeBlocked(producerName string) bool {
	if producerName == "" || !f.blocked[producerName] {
		return false
	}
	delete(f.blocked, producerName)
	return true
}

// RejectSends makes the server reject the next n SEND commands, whichever
// producers send them. A rejected message is not stored. What the client
// sees: the broker answers SEND_ERROR and closes the connection; the producer
// reconnects and its registration is refused once with
// ProducerBlockedQuotaExceededException, which makes pulsar-client-go fail
// every send it had pending with an error wrapping
// pulsar.ErrProducerBlockedQuotaExceeded; its next reconnection succeeds and
// later sends work. Consumers on the same client connection reconnect too.
func (s *Server) RejectSends(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rejectSends = max(n, 0)
}

// DropConnections closes every client connection at once, as a broker
// restart or network failure would, and returns how many it closed. Clients
// reconnect by themselves. Unacknowledged messages of the dropped consumers
// are redelivered (with their redelivery count incremented); acknowledgements
// the server had received before are kept.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		c.close()
		n++
	}
	return n
}
