package sbtest

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"

	"github.com/Azure/go-amqp"
)

// This file is a link (§2.6): attach and its echo, link credit (§2.6.7),
// transfers in both directions including splitting and reassembly of
// multi-frame deliveries (§2.6.14), and what each kind of link does with a
// complete delivery.

type linkKind int

const (
	linkSend    linkKind = iota // client sends to a queue or topic
	linkCBS                     // client sends put-token requests to $cbs
	linkMgmt                    // client sends requests to <entity>/$management
	linkReceive                 // client receives from a queue, subscription or DLQ
	linkReply                   // client receives $cbs / $management responses
)

const (
	// creditWindow is the credit the server grants a client sender, topped
	// up when half is used.
	creditWindow = 500
	// transferOverhead bounds the encoded size of a transfer performative,
	// so a payload chunk plus its performative fits in a frame.
	transferOverhead = 128
	managementSuffix = "/$management"
)

type link struct {
	s      *session
	name   string
	handle uint32
	kind   linkKind
	addr   string

	// Client sender side (the server receives).
	peerDeliveryCount uint32 // the client's delivery-count
	creditLeft        uint32 // credit the client has left
	partial           *incoming
	targets           []*queue // linkSend
	mgmtPath          string   // linkMgmt: the entity the requests are about

	// Client receiver side (the server sends).
	deliveryCount uint32 // the server's delivery-count
	credit        uint32
	drain         bool
	presettled    bool   // receive-and-delete: deliveries go out settled
	q             *queue // linkReceive
	pending       [][]byte
	tagCounter    uint64
}

// incoming is a delivery being reassembled from several transfer frames.
type incoming struct {
	id      uint32
	settled bool
	format  uint32
	data    []byte
	tooBig  bool
}

func (s *session) onAttach(a *performAttach) error {
	if s.links[a.Handle] != nil {
		return protoErr(condNotAllowed, "handle %d already attached", a.Handle)
	}
	l := &link{s: s, name: a.Name, handle: a.Handle}
	srv := s.c.srv
	reply := &performAttach{
		Name:           a.Name,
		Handle:         a.Handle,
		Role:           !a.Role,
		SndSettleMode:  a.SndSettleMode, // echoed: go-amqp refuses a mismatch (wire-facts S1)
		RcvSettleMode:  a.RcvSettleMode,
		Source:         a.Source,
		Target:         a.Target,
		MaxMessageSize: srv.cfg.maxMessageSize,
	}
	var refuse *amqpError
	if a.Role == roleSender {
		if a.Target == nil {
			refuse = &amqpError{Condition: condNotAllowed, Description: "attach without a target"}
		} else {
			l.addr = a.Target.Address
			refuse = l.resolveSend(srv)
		}
		l.peerDeliveryCount = a.InitialDeliveryCount
	} else {
		if a.Source == nil {
			refuse = &amqpError{Condition: condNotAllowed, Description: "attach without a source"}
		} else {
			l.addr = a.Source.Address
			refuse = l.resolveReceive(srv, a)
		}
		l.presettled = a.SndSettleMode != nil && *a.SndSettleMode == sndSettled
	}
	if refuse != nil {
		// §2.6.3: attach with no terminus, then detach with the error.
		// go-amqp waits for exactly this pair (link.go attach).
		reply.Source, reply.Target = nil, nil
		s.c.sendPerformative(s.ch, reply)
		s.c.sendPerformative(s.ch, &performDetach{Handle: a.Handle, Closed: true, Error: refuse})
		return nil
	}
	s.links[a.Handle] = l
	s.c.sendPerformative(s.ch, reply)
	switch l.kind {
	case linkSend, linkCBS, linkMgmt:
		l.grantCredit()
	case linkReceive:
		l.q.receivers = append(l.q.receivers, l)
	case linkReply:
		if a.Target != nil {
			s.c.replyLinks[a.Target.Address] = l
		}
	}
	return nil
}

func (l *link) resolveSend(srv *Server) *amqpError {
	switch {
	case l.addr == "$cbs":
		l.kind = linkCBS
	case strings.HasSuffix(strings.ToLower(l.addr), managementSuffix):
		l.kind = linkMgmt
		l.mgmtPath = l.addr[:len(l.addr)-len(managementSuffix)]
		_, isTarget := srv.sendTarget(l.mgmtPath)
		if !isTarget && srv.receiveSource(l.mgmtPath) == nil {
			return notFound(l.addr)
		}
		if err := l.s.c.checkAuthorized(l.addr); err != nil {
			return err
		}
	default:
		l.kind = linkSend
		targets, ok := srv.sendTarget(l.addr)
		if !ok {
			return notFound(l.addr)
		}
		if err := l.s.c.checkAuthorized(l.addr); err != nil {
			return err
		}
		l.targets = targets
	}
	return nil
}

func (l *link) resolveReceive(srv *Server, a *performAttach) *amqpError {
	switch {
	case l.addr == "$cbs" || strings.HasSuffix(strings.ToLower(l.addr), managementSuffix):
		l.kind = linkReply
		if a.Target == nil || a.Target.Address == "" {
			return &amqpError{Condition: condNotAllowed, Description: "reply link without a target address"}
		}
	default:
		l.kind = linkReceive
		l.q = srv.receiveSource(l.addr)
		if l.q == nil {
			return notFound(l.addr)
		}
		if err := l.s.c.checkAuthorized(l.addr); err != nil {
			return err
		}
	}
	return nil
}

func notFound(addr string) *amqpError {
	return &amqpError{
		Condition:   condNotFound,
		Description: "The messaging entity '" + addr + "' could not be found.",
	}
}

// forget removes the link from everything that refers to it.
func (l *link) forget() {
	switch l.kind {
	case linkReceive:
		l.q.removeReceiver(l)
	case linkReply:
		for addr, rl := range l.s.c.replyLinks {
			if rl == l {
				delete(l.s.c.replyLinks, addr)
			}
		}
	}
}

// grantCredit tops the client sender's credit up to creditWindow (§2.6.7:
// link-credit is absolute, relative to delivery-count).
func (l *link) grantCredit() {
	l.creditLeft = creditWindow
	dc, credit, h := l.peerDeliveryCount, uint32(creditWindow), l.handle
	l.s.c.sendPerformative(l.s.ch, l.s.flowFields(&performFlow{
		Handle: &h, DeliveryCount: &dc, LinkCredit: &credit,
	}))
}

// onFlow updates the credit the client grants the server (§2.6.7:
// link-credit(snd) = delivery-count(rcv) + link-credit(rcv) -
// delivery-count(snd)).
func (l *link) onFlow(f *performFlow, now time.Time) {
	if l.kind != linkReceive && l.kind != linkReply {
		if f.Echo {
			h, dc, credit := l.handle, l.peerDeliveryCount, l.creditLeft
			l.s.c.sendPerformative(l.s.ch, l.s.flowFields(&performFlow{Handle: &h, DeliveryCount: &dc, LinkCredit: &credit}))
		}
		return
	}
	if f.LinkCredit != nil {
		var rcvCount uint32
		if f.DeliveryCount != nil {
			rcvCount = *f.DeliveryCount
		}
		l.credit = rcvCount + *f.LinkCredit - l.deliveryCount
		if l.credit > 1<<30 {
			// The client's view is behind ours (deliveries in flight):
			// treat as no credit rather than wrapping around.
			l.credit = 0
		}
	}
	l.drain = f.Drain
	l.pump(now)
	if l.drain || f.Echo {
		if l.drain && l.credit > 0 {
			// §2.6.7 drain: use up the credit by advancing the
			// delivery-count, then report it.
			l.deliveryCount += l.credit
			l.credit = 0
		}
		h, dc, credit := l.handle, l.deliveryCount, l.credit
		avail := uint32(0)
		if l.q != nil {
			avail = uint32(len(l.q.avail))
		}
		l.s.c.sendPerformative(l.s.ch, l.s.flowFields(&performFlow{
			Handle: &h, DeliveryCount: &dc, LinkCredit: &credit, Available: &avail, Drain: l.drain,
		}))
	}
}

// canSend reports whether the server may start a delivery on the link.
func (l *link) canSend() bool {
	return l.credit > 0 && l.s.remoteIncomingWindow > 0
}

// pump sends what the link can: queued RPC replies, or messages from its
// queue.
func (l *link) pump(now time.Time) {
	switch l.kind {
	case linkReply:
		for len(l.pending) > 0 && l.canSend() {
			payload := l.pending[0]
			l.pending = l.pending[1:]
			l.tagCounter++
			l.transfer(payload, binary.BigEndian.AppendUint64(nil, l.tagCounter), true, nil)
		}
	case linkReceive:
		l.q.dispatch(now)
	}
}

// deliverMessage sends a stored message on a receiver link, locking it
// (peek-lock) or removing it (receive-and-delete).
func (l *link) deliverMessage(q *queue, m *storedMessage, now time.Time) {
	m.deliveryCount++
	if l.presettled {
		payload, err := q.render(m, false)
		if err != nil {
			return // cannot happen for a message that decoded; dropped
		}
		tag := make([]byte, 16)
		_, _ = rand.Read(tag)
		l.transfer(payload, tag, true, nil)
		return
	}
	q.lock(m, now)
	payload, err := q.render(m, false)
	if err != nil {
		q.unlock(m.lockToken)
		return
	}
	l.transfer(payload, dotnetTag(m.lockToken), false, &outDelivery{q: q, token: m.lockToken, l: l})
}

// transfer sends one delivery, split into frames that fit the client's
// max-frame-size (§2.6.14: all but the last carry more=true).
func (l *link) transfer(payload, tag []byte, settled bool, od *outDelivery) {
	s := l.s
	id := s.nextDeliveryID
	s.nextDeliveryID++
	if od != nil {
		s.unsettled[id] = *od
	}
	l.deliveryCount++
	l.credit--
	chunk := int(s.c.peerMaxFrame) - 8 - transferOverhead - len(tag)
	format := uint32(0)
	first := true
	for {
		n := min(chunk, len(payload))
		t := &performTransfer{Handle: l.handle, Settled: settled, More: n < len(payload)}
		if first {
			t.DeliveryID, t.DeliveryTag, t.MessageFormat = &id, tag, &format
		}
		body := t.encode(nil)
		body = append(body, payload[:n]...)
		s.c.send(appendFrame(nil, frameTypeAMQP, s.ch, body))
		s.nextOutgoingID++
		if s.remoteIncomingWindow > 0 {
			s.remoteIncomingWindow--
		}
		payload = payload[n:]
		first = false
		if len(payload) == 0 {
			return
		}
	}
}

// onTransfer reassembles a delivery from the client and acts on it once
// complete.
func (l *link) onTransfer(t *performTransfer, payload []byte, now time.Time) error {
	if l.kind == linkReceive || l.kind == linkReply {
		return protoErr(condNotAllowed, "transfer on a link where the client is the receiver")
	}
	if l.partial == nil {
		if t.DeliveryID == nil && !t.Settled {
			return protoErr(condNotAllowed, "first transfer of a delivery without delivery-id")
		}
		if l.creditLeft == 0 {
			return protoErr(condNotAllowed, "transfer without link credit")
		}
		in := &incoming{settled: t.Settled}
		if t.DeliveryID != nil {
			in.id = *t.DeliveryID
		}
		if t.MessageFormat != nil {
			in.format = *t.MessageFormat
		}
		l.partial = in
	}
	in := l.partial
	if t.Settled {
		in.settled = true
	}
	limit := int(l.s.c.srv.cfg.maxMessageSize) + 64*1024 // room for the batch envelope
	if !in.tooBig && len(in.data)+len(payload) > limit {
		in.tooBig, in.data = true, nil
	}
	if !in.tooBig {
		in.data = append(in.data, payload...)
	}
	if t.Aborted {
		// §2.6.14: an aborted delivery is discarded and needs no
		// settlement; it still used credit.
		l.partial = nil
		l.delivered()
		return nil
	}
	if t.More {
		return nil
	}
	l.partial = nil
	l.delivered()
	var outcome *deliveryState
	if in.tooBig {
		outcome = rejectedState(condMessageSizeLimit, "The message exceeds the maximum message size.")
	} else {
		outcome = l.complete(in, now)
	}
	if !in.settled {
		l.s.c.sendPerformative(l.s.ch, &performDisposition{
			Role: roleReceiver, First: in.id, Settled: true, State: outcome,
		})
	}
	return nil
}

// delivered advances the link's delivery-count and tops up credit.
func (l *link) delivered() {
	l.peerDeliveryCount++
	if l.creditLeft > 0 {
		l.creditLeft--
	}
	if l.creditLeft < creditWindow/2 {
		l.grantCredit()
	}
}

func rejectedState(cond symbol, desc string) *deliveryState {
	return &deliveryState{code: descRejected, err: &amqpError{Condition: cond, Description: desc}}
}

// batchFormat is the message-format of a batch send: the body's data
// sections each hold one complete encoded message (azservicebus
// message_batch.go).
const batchFormat = 0x80013700

// complete acts on a fully received delivery and returns its outcome.
func (l *link) complete(in *incoming, now time.Time) *deliveryState {
	var msg amqp.Message
	if err := msg.UnmarshalBinary(in.data); err != nil {
		return rejectedState(condDecodeError, "message could not be decoded: "+err.Error())
	}
	switch l.kind {
	case linkCBS:
		l.s.c.reply(&msg, l.s.c.putToken(&msg, now))
	case linkMgmt:
		l.s.c.reply(&msg, l.s.c.srv.management(l.mgmtPath, &msg, now))
	case linkSend:
		if l.s.c.srv.faults.takeSendRefusal() {
			return rejectedState(condResourceLimit, "sbtest: send refused by RefuseSends")
		}
		msgs := []*amqp.Message{&msg}
		if in.format == batchFormat {
			msgs = msgs[:0]
			for _, d := range msg.Data {
				inner := new(amqp.Message)
				if err := inner.UnmarshalBinary(d); err != nil {
					return rejectedState(condDecodeError, "batched message could not be decoded: "+err.Error())
				}
				msgs = append(msgs, inner)
			}
		} else if in.format != 0 {
			return rejectedState(condNotAllowed, "unsupported message format")
		}
		for _, m := range msgs {
			l.s.c.srv.enqueue(l.targets, m, now)
		}
	}
	return stateAccepted
}

// reply routes an RPC response to the client's reply link named by the
// request's reply-to, correlated by the request's message-id.
func (c *conn) reply(req, resp *amqp.Message) {
	if resp == nil || req.Properties == nil || req.Properties.ReplyTo == nil {
		return
	}
	l := c.replyLinks[*req.Properties.ReplyTo]
	if l == nil {
		return // nobody to answer; Service Bus drops it too
	}
	if resp.Properties == nil {
		resp.Properties = &amqp.MessageProperties{}
	}
	resp.Properties.CorrelationID = req.Properties.MessageID
	payload, err := resp.MarshalBinary()
	if err != nil {
		return
	}
	l.pending = append(l.pending, payload)
	l.pump(time.Now())
}

// rpcResponse builds a response with the status application properties the
// client requires (status-code must be an int32, azservicebus rpc.go).
func rpcResponse(code int32, desc string, value any) *amqp.Message {
	return &amqp.Message{
		ApplicationProperties: map[string]any{
			"status-code":        code,
			"status-description": desc,
		},
		Value: value,
	}
}
