package sbtest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/Azure/go-amqp"
)

// This file is the Service Bus entity model: queues, topics with
// subscriptions, dead-letter sub-queues, and the life of a message in them
// (available, locked, deferred, scheduled, dead-lettered). All of it is
// guarded by Server.mu.

// Message states as the client reads them from x-opt-message-state.
const (
	stateActive    = 0
	stateDeferred  = 1
	stateScheduled = 2
)

// Annotation keys Service Bus puts on messages (read by the client in
// azservicebus message.go).
const (
	annSequenceNumber  = amqp.Symbol("x-opt-sequence-number")
	annEnqueuedTime    = amqp.Symbol("x-opt-enqueued-time")
	annLockedUntil     = amqp.Symbol("x-opt-locked-until")
	annMessageState    = amqp.Symbol("x-opt-message-state")
	annScheduledTime   = "x-opt-scheduled-enqueue-time"
	annLockToken       = amqp.Symbol("x-opt-lock-token")
	annDeadLetterSrc   = amqp.Symbol("x-opt-deadletter-source")
	propDLReason       = "DeadLetterReason"
	propDLDescription  = "DeadLetterErrorDescription"
	dlqSuffix          = "/$deadletterqueue"
	subscriptionsInfix = "/subscriptions/"
)

// storedMessage is one message in one queue or subscription.
type storedMessage struct {
	seq           int64
	enqueued      time.Time
	msg           *amqp.Message // as the client sent it, without broker annotations
	deliveryCount uint32        // how many times it was handed out (locked or received-and-deleted)
	state         int
	locked        bool
	lockToken     amqp.UUID
	lockedUntil   time.Time
	scheduledFor  time.Time
	expiresAt     time.Time // zero: never (no time-to-live)
	dlSource      string
}

// queue is a queue, a subscription, or a dead-letter sub-queue of either:
// they behave the same for receivers.
type queue struct {
	srv          *Server
	path         string // as created, e.g. "orders" or "t/Subscriptions/s" or ".../$DeadLetterQueue"
	lockDuration time.Duration
	maxDelivery  uint32 // 0: never dead-letter for delivery count (dead-letter queues)
	nextSeq      *int64 // shared by a topic's subscriptions
	avail        []*storedMessage
	locked       map[amqp.UUID]*storedMessage
	deferred     map[int64]*storedMessage
	scheduled    map[int64]*storedMessage
	dlOnExpiry   bool
	// mayExpire is set once a message with a time-to-live was stored: only
	// then does the janitor scan the available messages (a scan every
	// tick of a queue holding many messages would starve the server).
	mayExpire bool
	dlq       *queue
	receivers []*link
	rr        int
}

// topic fans every message out to its subscriptions.
type topic struct {
	name    string
	nextSeq int64
	subs    map[string]*queue
}

// QueueOptions configures a queue or a subscription. Zero fields take the
// defaults.
type QueueOptions struct {
	// LockDuration is how long a peek-locked message stays locked before
	// it is redelivered. Default DefaultLockDuration (60 s). Trap: the
	// server checks locks every 10 ms, so durations below ~50 ms make
	// tests timing-sensitive.
	LockDuration time.Duration
	// MaxDeliveryCount is the number of deliveries after which an
	// abandoned or expired message moves to the dead-letter queue with
	// reason "MaxDeliveryCountExceeded". Default DefaultMaxDeliveryCount
	// (10).
	MaxDeliveryCount int
	// DeadLetterOnMessageExpiration moves messages whose time-to-live ran
	// out to the dead-letter queue (reason "TTLExpiredException") instead
	// of dropping them. Default false, as in Service Bus.
	DeadLetterOnMessageExpiration bool
}

func newQueue(s *Server, path string, opts *QueueOptions, seq *int64) *queue {
	q := &queue{
		srv:          s,
		path:         path,
		lockDuration: DefaultLockDuration,
		maxDelivery:  DefaultMaxDeliveryCount,
		nextSeq:      seq,
		locked:       map[amqp.UUID]*storedMessage{},
		deferred:     map[int64]*storedMessage{},
		scheduled:    map[int64]*storedMessage{},
	}
	if opts != nil && opts.LockDuration > 0 {
		q.lockDuration = opts.LockDuration
	}
	if opts != nil && opts.MaxDeliveryCount > 0 {
		q.maxDelivery = uint32(opts.MaxDeliveryCount)
	}
	if opts != nil {
		q.dlOnExpiry = opts.DeadLetterOnMessageExpiration
	}
	q.dlq = &queue{
		srv:          s,
		path:         path + "/$DeadLetterQueue",
		lockDuration: q.lockDuration,
		nextSeq:      seq,
		locked:       map[amqp.UUID]*storedMessage{},
		deferred:     map[int64]*storedMessage{},
		scheduled:    map[int64]*storedMessage{},
	}
	return q
}

func (s *Server) checkName(name string) error {
	if name == "" || strings.Contains(name, "$") {
		return fmt.Errorf("sbtest: invalid entity name %q", name)
	}
	if s.closed {
		return ErrClosed
	}
	return nil
}

// CreateQueue creates a queue. opts may be nil for the defaults. Names are
// case-insensitive, as in Service Bus.
func (s *Server) CreateQueue(name string, opts *QueueOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkName(name); err != nil {
		return err
	}
	key := strings.ToLower(name)
	if s.queues[key] != nil || s.topics[key] != nil {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	q := newQueue(s, name, opts, new(int64))
	s.queues[key] = q
	s.queues[key+dlqSuffix] = q.dlq
	return nil
}

// CreateTopic creates a topic without subscriptions; messages sent to a
// topic without subscriptions are discarded, as in Service Bus.
func (s *Server) CreateTopic(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkName(name); err != nil {
		return err
	}
	key := strings.ToLower(name)
	if s.queues[key] != nil || s.topics[key] != nil {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	s.topics[key] = &topic{name: name, subs: map[string]*queue{}}
	return nil
}

// CreateSubscription creates a subscription of an existing topic. It
// receives messages sent after it was created. opts may be nil.
func (s *Server) CreateSubscription(topicName, name string, opts *QueueOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkName(name); err != nil {
		return err
	}
	t := s.topics[strings.ToLower(topicName)]
	if t == nil {
		return fmt.Errorf("%w: topic %s", ErrNotFound, topicName)
	}
	path := t.name + "/Subscriptions/" + name
	key := strings.ToLower(path)
	if s.queues[key] != nil {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	q := newQueue(s, path, opts, &t.nextSeq)
	t.subs[strings.ToLower(name)] = q
	s.queues[key] = q
	s.queues[key+dlqSuffix] = q.dlq
	return nil
}

// sendTarget resolves a sender address to the queues that receive a
// message sent there: one for a queue, one per subscription for a topic.
// Sub-queues and subscriptions cannot be sent to.
func (s *Server) sendTarget(addr string) (queues []*queue, ok bool) {
	key := strings.ToLower(strings.Trim(addr, "/"))
	if strings.Contains(key, "/") {
		return nil, false
	}
	if q := s.queues[key]; q != nil {
		return []*queue{q}, true
	}
	if t := s.topics[key]; t != nil {
		for _, name := range slices.Sorted(maps.Keys(t.subs)) {
			queues = append(queues, t.subs[name])
		}
		return queues, true
	}
	return nil, false
}

// receiveSource resolves a receiver or $management address to its queue.
func (s *Server) receiveSource(addr string) *queue {
	return s.queues[strings.ToLower(strings.Trim(addr, "/"))]
}

// enqueue stores a message sent by a client in every target queue.
func (s *Server) enqueue(targets []*queue, m *amqp.Message, now time.Time) []int64 {
	if len(targets) == 0 {
		return nil // a topic without subscriptions drops the message
	}
	seqCounter := targets[0].nextSeq
	*seqCounter++
	seq := *seqCounter
	for _, q := range targets {
		sm := &storedMessage{seq: seq, enqueued: now, msg: m}
		if m.Header != nil && m.Header.TTL > 0 {
			sm.expiresAt = now.Add(m.Header.TTL)
			q.mayExpire = true
		}
		if at, ok := m.Annotations[annScheduledTime].(time.Time); ok && at.After(now) {
			sm.state = stateScheduled
			sm.scheduledFor = at
			q.scheduled[seq] = sm
			continue
		}
		q.insert(sm)
		q.dispatch(now)
	}
	return []int64{seq}
}

// insert puts a message back among the available ones, in sequence order,
// so that a redelivered message goes before later ones.
func (q *queue) insert(m *storedMessage) {
	m.state = stateActive
	i, _ := slices.BinarySearchFunc(q.avail, m.seq, func(e *storedMessage, seq int64) int {
		switch {
		case e.seq < seq:
			return -1
		case e.seq > seq:
			return 1
		}
		return 0
	})
	q.avail = slices.Insert(q.avail, i, m)
}

// dispatch hands available messages to receivers that have credit.
func (q *queue) dispatch(now time.Time) {
	for len(q.avail) > 0 {
		l := q.pickReceiver()
		if l == nil {
			return
		}
		m := q.avail[0]
		q.avail = q.avail[1:]
		if m.expired(now) {
			q.expireMessage(m, now)
			continue
		}
		l.deliverMessage(q, m, now)
	}
}

func (m *storedMessage) expired(now time.Time) bool {
	return !m.expiresAt.IsZero() && !now.Before(m.expiresAt)
}

// expireMessage drops a message whose time-to-live ran out, or moves it to
// the dead-letter queue if the entity asks for that.
func (q *queue) expireMessage(m *storedMessage, now time.Time) {
	if q.dlOnExpiry && q.dlq != nil {
		q.deadLetter(m, "TTLExpiredException", "The message expired and was dead lettered.", now)
	}
}

// pickReceiver round-robins over receivers with credit and session window,
// so competing receivers share the queue.
func (q *queue) pickReceiver() *link {
	n := len(q.receivers)
	for i := 0; i < n; i++ {
		l := q.receivers[(q.rr+i)%n]
		if l.canSend() {
			q.rr = (q.rr + i + 1) % n
			return l
		}
	}
	return nil
}

func (q *queue) removeReceiver(l *link) {
	q.receivers = slices.DeleteFunc(q.receivers, func(e *link) bool { return e == l })
}

// lock marks m as locked by a new token until now+lockDuration.
func (q *queue) lock(m *storedMessage, now time.Time) {
	var token amqp.UUID
	_, _ = rand.Read(token[:])
	token[6] = token[6]&0x0f | 0x40 // RFC 4122 version 4
	token[8] = token[8]&0x3f | 0x80
	m.locked = true
	m.lockToken = token
	m.lockedUntil = timeValue(now.Add(q.lockDuration))
	q.locked[token] = m
}

// unlock removes the lock, returning the message or nil if the token is
// unknown (expired, settled, or never issued): the caller reports
// "lock lost".
func (q *queue) unlock(token amqp.UUID) *storedMessage {
	m := q.locked[token]
	if m == nil {
		return nil
	}
	delete(q.locked, token)
	m.locked = false
	m.lockedUntil = time.Time{}
	return m
}

// settleOutcome is what happened to a settlement request.
type settleKind int

const (
	settleComplete settleKind = iota
	settleAbandon
	settleRelease // the client never looked at the message: no delivery counted
	settleDefer
	settleDeadLetter
)

type settlement struct {
	kind        settleKind
	reason      string
	description string
	props       map[string]any // properties-to-modify
}

// settle applies a settlement to a locked message. It reports false if the
// lock was lost.
func (q *queue) settle(token amqp.UUID, st settlement, now time.Time) bool {
	m := q.unlock(token)
	if m == nil {
		return false
	}
	if len(st.props) > 0 {
		q.modifyProperties(m, st.props)
	}
	switch st.kind {
	case settleComplete:
		// gone
	case settleRelease:
		if m.deliveryCount > 0 {
			m.deliveryCount--
		}
		q.putBack(m)
	case settleAbandon:
		q.returnOrDeadLetter(m, now)
	case settleDefer:
		m.state = stateDeferred
		q.deferred[m.seq] = m
	case settleDeadLetter:
		q.deadLetter(m, st.reason, st.description, now)
	}
	q.dispatch(now)
	return true
}

// modifyProperties applies properties-to-modify to the message's
// application properties, on a copy so that other subscriptions sharing
// the message are not affected.
func (q *queue) modifyProperties(m *storedMessage, props map[string]any) {
	cp := *m.msg
	cp.ApplicationProperties = maps.Clone(m.msg.ApplicationProperties)
	if cp.ApplicationProperties == nil {
		cp.ApplicationProperties = map[string]any{}
	}
	maps.Copy(cp.ApplicationProperties, props)
	m.msg = &cp
}

// returnOrDeadLetter is what happens to an abandoned or expired message:
// back to the queue, or to the dead-letter queue once it was delivered
// MaxDeliveryCount times.
func (q *queue) returnOrDeadLetter(m *storedMessage, now time.Time) {
	if q.maxDelivery > 0 && m.deliveryCount >= q.maxDelivery {
		q.deadLetter(m, "MaxDeliveryCountExceeded",
			fmt.Sprintf("Message could not be consumed after %d delivery attempts.", q.maxDelivery), now)
		return
	}
	q.putBack(m)
}

// putBack returns an unlocked message to where it came from: a deferred
// message stays deferred (it was received by sequence number), any other
// becomes available again.
func (q *queue) putBack(m *storedMessage) {
	if m.state == stateDeferred {
		q.deferred[m.seq] = m
		return
	}
	q.insert(m)
}

// deadLetter moves m to the dead-letter queue, recording reason and
// description as the application properties the client reads.
func (q *queue) deadLetter(m *storedMessage, reason, description string, now time.Time) {
	if q.dlq == nil {
		// Dead-lettering from a dead-letter queue: Service Bus keeps the
		// message where it is.
		q.insert(m)
		return
	}
	props := map[string]any{propDLReason: reason}
	if description != "" {
		props[propDLDescription] = description
	}
	q.modifyProperties(m, props)
	m.state = stateActive
	m.expiresAt = time.Time{} // dead letters do not expire
	q.dlq.insert(m)
	q.dlq.dispatch(now)
}

// expire returns messages whose lock ran out, enqueues scheduled messages
// that are due and removes messages whose time-to-live ran out.
func (q *queue) expire(now time.Time) {
	for token, m := range q.locked {
		if now.After(m.lockedUntil) {
			q.unlock(token)
			q.returnOrDeadLetter(m, now)
		}
	}
	for seq, m := range q.scheduled {
		if !now.Before(m.scheduledFor) {
			delete(q.scheduled, seq)
			q.insert(m)
		}
	}
	// Available messages past their time-to-live leave the queue even
	// when nobody receives (locked ones are checked when they return).
	if !q.mayExpire {
		q.dispatch(now)
		return
	}
	kept := q.avail[:0]
	var gone []*storedMessage
	for _, m := range q.avail {
		if m.expired(now) {
			gone = append(gone, m)
			continue
		}
		kept = append(kept, m)
	}
	clear(q.avail[len(kept):])
	q.avail = kept
	for _, m := range gone {
		q.expireMessage(m, now)
	}
	q.dispatch(now)
}

// all returns every message of the queue in sequence order (for peek and
// the test API).
func (q *queue) all() []*storedMessage {
	out := slices.Clone(q.avail)
	for _, m := range q.locked {
		out = append(out, m)
	}
	for _, m := range q.deferred {
		out = append(out, m)
	}
	for _, m := range q.scheduled {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *storedMessage) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out
}

// render encodes m as the client receives it: the stored message plus the
// header's delivery count and the broker annotations. Types are exact
// (timestamp, long) because the client type-asserts them.
func (q *queue) render(m *storedMessage, lockTokenAnnotation bool) ([]byte, error) {
	out := *m.msg
	out.DeliveryTag = nil
	var h amqp.MessageHeader
	if m.msg.Header != nil {
		h = *m.msg.Header
	}
	// header.delivery-count counts prior failed deliveries (§3.2.1); the
	// client adds one to it.
	h.DeliveryCount = 0
	if m.deliveryCount > 0 {
		h.DeliveryCount = m.deliveryCount - 1
	}
	out.Header = &h
	ann := make(amqp.Annotations, len(m.msg.Annotations)+4)
	maps.Copy(ann, m.msg.Annotations)
	ann[annSequenceNumber] = m.seq
	skew := q.srv.cfg.skew
	ann[annEnqueuedTime] = m.enqueued.Add(skew)
	if m.locked {
		ann[annLockedUntil] = m.lockedUntil.Add(skew)
	}
	if m.state != stateActive {
		ann[annMessageState] = int64(m.state)
	}
	if m.dlSource != "" {
		ann[annDeadLetterSrc] = m.dlSource
	}
	out.Annotations = ann
	out.DeliveryAnnotations = nil
	if lockTokenAnnotation && m.locked {
		out.DeliveryAnnotations = amqp.Annotations{annLockToken: m.lockToken}
	}
	if out.Properties == nil {
		// The client reads header.delivery-count only when properties are
		// present (azservicebus message.go).
		out.Properties = &amqp.MessageProperties{}
	}
	return out.MarshalBinary()
}

// timeValue truncates to milliseconds, the precision of AMQP timestamps
// (Part 1 §1.6.17), so that the time the server keeps is exactly the time
// the client reads.
func timeValue(t time.Time) time.Time { return t.Truncate(time.Millisecond) }

// dotnetTag converts a lock token to the delivery tag Service Bus sends:
// the GUID in .NET byte order (first three fields little-endian), which the
// client swaps back (azservicebus message.go lockTokenFromMessageTag).
func dotnetTag(token amqp.UUID) []byte {
	t := token
	t[0], t[3] = t[3], t[0]
	t[1], t[2] = t[2], t[1]
	t[4], t[5] = t[5], t[4]
	t[6], t[7] = t[7], t[6]
	return t[:]
}

// Message is a snapshot of a stored message, for test assertions.
type Message struct {
	SequenceNumber int64
	MessageID      string
	Body           []byte
	// ApplicationProperties as stored, including DeadLetterReason and
	// DeadLetterErrorDescription for dead-lettered messages.
	ApplicationProperties map[string]any
	// DeliveryCount is the number of times the message was delivered.
	DeliveryCount int
	// State is "active", "locked", "deferred" or "scheduled".
	State string
	// DeadLetterReason and DeadLetterErrorDescription are copied from the
	// application properties for convenience.
	DeadLetterReason           string
	DeadLetterErrorDescription string
}

func snapshot(m *storedMessage) Message {
	out := Message{
		SequenceNumber:        m.seq,
		ApplicationProperties: maps.Clone(m.msg.ApplicationProperties),
		DeliveryCount:         int(m.deliveryCount),
		State:                 "active",
	}
	if m.msg.Properties != nil {
		if id, ok := m.msg.Properties.MessageID.(string); ok {
			out.MessageID = id
		}
	}
	if len(m.msg.Data) > 0 {
		for _, d := range m.msg.Data {
			out.Body = append(out.Body, d...)
		}
	}
	switch {
	case m.locked:
		out.State = "locked"
	case m.state == stateDeferred:
		out.State = "deferred"
	case m.state == stateScheduled:
		out.State = "scheduled"
	}
	out.DeadLetterReason, _ = out.ApplicationProperties[propDLReason].(string)
	out.DeadLetterErrorDescription, _ = out.ApplicationProperties[propDLDescription].(string)
	return out
}

// Messages returns a snapshot of every message in an entity, in sequence
// order. path is a queue name, "topic/Subscriptions/name", or either with
// "/$DeadLetterQueue" appended.
func (s *Server) Messages(path string) ([]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.receiveSource(path)
	if q == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	var out []Message
	for _, m := range q.all() {
		out = append(out, snapshot(m))
	}
	return out, nil
}

// DeadLetters returns a snapshot of the dead-letter queue of a queue or
// subscription (path as in Messages, without the suffix).
func (s *Server) DeadLetters(path string) ([]Message, error) {
	return s.Messages(strings.TrimSuffix(path, "/") + "/$DeadLetterQueue")
}

// UpdateQueue changes the lock duration and max delivery count of an
// existing queue or subscription (path is a queue name or
// "topic/Subscriptions/name"), as the administration API's UpdateQueue and
// UpdateSubscription do; zero fields of opts are left as they are. Locks
// already taken keep their expiry; the new values apply from the next
// delivery. DeadLetterOnMessageExpiration is not changed.
func (s *Server) UpdateQueue(path string, opts *QueueOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	q := s.receiveSource(path)
	if q == nil || q.dlq == nil { // dead-letter queues have no settings of their own
		return fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if opts == nil {
		return nil
	}
	if opts.LockDuration > 0 {
		q.lockDuration = opts.LockDuration
		q.dlq.lockDuration = opts.LockDuration
	}
	if opts.MaxDeliveryCount > 0 {
		q.maxDelivery = uint32(opts.MaxDeliveryCount)
	}
	return nil
}
