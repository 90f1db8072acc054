package sbtest

import (
	"maps"
	"slices"
	"time"

	"github.com/Azure/go-amqp"
)

// This file is a session (§2.5): transfer-id bookkeeping and windows
// (§2.5.6), the link handle table, and the deliveries the server sent that
// the client has not settled yet.

// sessionIncomingWindow is the incoming window the server announces. It is
// large so the client never waits for a session flow from the server: the
// server accepts every transfer it is sent.
const sessionIncomingWindow = 1<<31 - 1

// outDelivery is an unsettled delivery the server sent on a receiver link:
// the client settles it by delivery-id, which maps back to the lock.
type outDelivery struct {
	q     *queue
	token amqp.UUID
	l     *link // the receiver link it went out on
}

type session struct {
	c  *conn
	ch uint16

	nextIncomingID       uint32 // transfer-id expected next from the client
	nextOutgoingID       uint32 // transfer-id of the server's next transfer frame
	nextDeliveryID       uint32
	remoteIncomingWindow uint32 // how many more transfer frames the client accepts

	links     map[uint32]*link // by the client's handle
	unsettled map[uint32]outDelivery
}

func newSession(c *conn, ch uint16, b *performBegin) *session {
	return &session{
		c:                    c,
		ch:                   ch,
		nextIncomingID:       b.NextOutgoingID,
		remoteIncomingWindow: b.IncomingWindow,
		links:                map[uint32]*link{},
		unsettled:            map[uint32]outDelivery{},
	}
}

// flowFields fills the session part of a flow frame (§2.7.4).
func (s *session) flowFields(f *performFlow) *performFlow {
	next := s.nextIncomingID
	f.NextIncomingID = &next
	f.IncomingWindow = sessionIncomingWindow
	f.NextOutgoingID = s.nextOutgoingID
	f.OutgoingWindow = sessionIncomingWindow
	return f
}

// onEnd answers the client's end (§2.7.8). The SDK closes a session after
// every CBS put-token and blocks until this answer arrives.
func (s *session) onEnd() {
	links := slices.Collect(maps.Values(s.links))
	s.detachAll()
	for _, l := range links {
		s.releaseUnsettled(l)
	}
	delete(s.c.sessions, s.ch)
	s.c.sendPerformative(s.ch, &performEnd{})
}

// detachAll forgets every link of the session without telling the client
// (the session or connection is going away anyway).
func (s *session) detachAll() {
	for h, l := range s.links {
		l.forget()
		delete(s.links, h)
	}
}

func (s *session) onFlow(f *performFlow) error {
	// §2.5.6: remote-incoming-window = next-incoming-id(flow) +
	// incoming-window(flow) - next-outgoing-id(endpoint); without
	// next-incoming-id the initial outgoing id (0) stands in.
	var nii uint32
	if f.NextIncomingID != nil {
		nii = *f.NextIncomingID
	}
	s.remoteIncomingWindow = nii + f.IncomingWindow - s.nextOutgoingID
	now := time.Now()
	if f.Handle == nil {
		if f.Echo {
			s.c.sendPerformative(s.ch, s.flowFields(&performFlow{}))
		}
		// The window may have opened: let every receiver of this
		// session try again.
		for _, l := range s.links {
			l.pump(now)
		}
		return nil
	}
	l := s.links[*f.Handle]
	if l == nil {
		return protoErr(condNotAllowed, "flow for unattached handle %d", *f.Handle)
	}
	l.onFlow(f, now)
	return nil
}

func (s *session) onTransfer(t *performTransfer, payload []byte) error {
	s.nextIncomingID++
	l := s.links[t.Handle]
	if l == nil {
		return protoErr(condNotAllowed, "transfer for unattached handle %d", t.Handle)
	}
	return l.onTransfer(t, payload, time.Now())
}

// onDisposition handles the client settling deliveries the server sent
// (role receiver). Dispositions the client sends as a sender have nothing
// to settle here: the server settles incoming transfers immediately.
func (s *session) onDisposition(d *performDisposition) error {
	if d.Role != roleReceiver {
		return nil
	}
	last := d.First
	if d.Last != nil {
		last = *d.Last
	}
	if last < d.First {
		return protoErr(condNotAllowed, "disposition range %d..%d", d.First, last)
	}
	// Iterate the smaller of the range and the unsettled set, so that a
	// range of four billion ids costs nothing.
	var ids []uint32
	if uint64(last-d.First) < uint64(len(s.unsettled)) {
		for id := d.First; ; id++ {
			ids = append(ids, id)
			if id == last {
				break
			}
		}
	} else {
		for id := range s.unsettled {
			if id >= d.First && id <= last {
				ids = append(ids, id)
			}
		}
	}
	now := time.Now()
	for _, id := range ids {
		od, ok := s.unsettled[id]
		if !ok {
			continue
		}
		if s.c.srv.faults.takeSettleIgnore() {
			continue // IgnoreSettlements: left locked and unanswered
		}
		delete(s.unsettled, id)
		reply := od.q.settleByState(od.token, d.State, now)
		if !d.Settled {
			// Receiver-settle-mode second (§3.4): the client waits for
			// the server to settle with the final outcome.
			s.c.sendPerformative(s.ch, &performDisposition{
				Role: roleSender, First: id, Settled: true, State: reply,
			})
		}
	}
	return nil
}

// settleByState maps an AMQP outcome (§3.4) to a Service Bus settlement,
// as the client sends them (azservicebus messageSettler.go), and returns
// the outcome to confirm with.
func (q *queue) settleByState(token amqp.UUID, st *deliveryState, now time.Time) *deliveryState {
	if st == nil || st.code == descReceived {
		// Not a terminal outcome: nothing to do, the lock stays.
		return st
	}
	var s settlement
	switch st.code {
	case descAccepted:
		s.kind = settleComplete
	case descReleased:
		s.kind = settleRelease
	case descModified:
		s.kind = settleAbandon
		if st.undeliverable {
			s.kind = settleDefer
		}
		s.props = annotationsToProps(st.annotationsToSet)
	case descRejected:
		s.kind = settleDeadLetter
		if st.err != nil {
			s.reason, _ = propString(st.err.Info, propDLReason)
			s.description, _ = propString(st.err.Info, propDLDescription)
			s.props = annotationsToProps(st.err.Info)
			delete(s.props, propDLReason)
			delete(s.props, propDLDescription)
		}
	}
	if !q.settle(token, s, now) {
		return &deliveryState{code: descRejected, err: &amqpError{
			Condition:   condLockLost,
			Description: "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.",
		}}
	}
	if st.code == descRejected {
		// Service Bus confirms a dead-letter with rejected and no error;
		// echoing the error makes the client fail (wire-facts S6.3).
		return &deliveryState{code: descRejected}
	}
	return st
}

func propString(m amqpMap, key string) (string, bool) {
	v, ok := m.get(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// annotationsToProps converts an AMQP map with string or symbol keys into
// application-property values the client's message encoder accepts.
func annotationsToProps(m amqpMap) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for _, e := range m {
		var k string
		switch key := e.key.(type) {
		case string:
			k = key
		case symbol:
			k = string(key)
		default:
			continue
		}
		if v, ok := toMessageValue(e.value); ok {
			out[k] = v
		}
	}
	return out
}

// toMessageValue converts a decoded simple value to the Go type go-amqp's
// message encoder uses for it; compound values are dropped because
// application properties may only hold simple types (§3.2.5).
func toMessageValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
		float32, float64, string, []byte, time.Time:
		return v, true
	case symbol:
		return amqp.Symbol(v), true
	case uuidValue:
		return amqp.UUID(v), true
	case charValue:
		return rune(v), true
	}
	return nil, false
}

func (s *session) onDetach(d *performDetach) error {
	l := s.links[d.Handle]
	if l == nil {
		// The echo of a detach the server sent when refusing an attach.
		return nil
	}
	l.forget()
	s.releaseUnsettled(l) // after forget: not back onto this link
	delete(s.links, d.Handle)
	s.c.sendPerformative(s.ch, &performDetach{Handle: d.Handle, Closed: true})
	return nil
}

// releaseUnsettled puts back the messages a receiver link that the client
// closes (detach, end) still holds unsettled, once it stopped receiving: a message can only be
// settled on the link it came on, and Service Bus frees the locks of a
// link that goes away (in practice these are messages that reached the
// client's releaser after ReceiveMessages returned, or that it never
// handed out). They are released, not abandoned: the delivery is not
// counted. A dropped connection keeps its locks until they expire.
func (s *session) releaseUnsettled(l *link) {
	if l.kind != linkReceive {
		return
	}
	now := time.Now()
	for id, od := range s.unsettled {
		if od.l == l {
			delete(s.unsettled, id)
			od.q.settle(od.token, settlement{kind: settleRelease}, now)
		}
	}
}
