package sbtest

import (
	"errors"
	"fmt"
)

// This file holds the performatives (part 2 §2.7), SASL frames (part 5
// §5.3.3), delivery states (part 3 §3.4), the error type (§2.8.14) and the
// source/target termini (§3.5), as Go structs with their list encodings.
// Field order follows the specification's field tables.

// Descriptor codes (the low 32 bits of the ulong descriptors; the domain
// part 0x00000000 is AMQP's own).
const (
	descOpen        = 0x10
	descBegin       = 0x11
	descAttach      = 0x12
	descFlow        = 0x13
	descTransfer    = 0x14
	descDisposition = 0x15
	descDetach      = 0x16
	descEnd         = 0x17
	descClose       = 0x18
	descError       = 0x1d
	descReceived    = 0x23
	descAccepted    = 0x24
	descRejected    = 0x25
	descReleased    = 0x26
	descModified    = 0x27
	descSource      = 0x28
	descTarget      = 0x29

	descSASLMechanisms = 0x40
	descSASLInit       = 0x41
	descSASLOutcome    = 0x44
)

// Link roles (§2.8.1): false is sender, true is receiver.
const (
	roleSender   = false
	roleReceiver = true
)

// Settlement modes (§2.8.2, §2.8.3).
const (
	sndUnsettled = 0
	sndSettled   = 1
	sndMixed     = 2
	rcvFirst     = 0
	rcvSecond    = 1
)

// fields reads a performative's list with typed accessors. The first type
// error is kept and reported once, so a decoder reads like a field table.
type fields struct {
	name string
	l    list
	err  error
}

func (f *fields) get(i int) any {
	if i < len(f.l) {
		return f.l[i]
	}
	return nil
}

func (f *fields) fail(i int, want string) {
	if f.err == nil {
		f.err = fmt.Errorf("amqp: %s field %d: want %s, got %T", f.name, i, want, f.get(i))
	}
}

func (f *fields) present(i int) bool { return f.get(i) != nil }

func (f *fields) uint32(i int) uint32 {
	switch v := f.get(i).(type) {
	case nil:
	case uint32:
		return v
	default:
		f.fail(i, "uint")
	}
	return 0
}

func (f *fields) uint16(i int) uint16 {
	switch v := f.get(i).(type) {
	case nil:
	case uint16:
		return v
	default:
		f.fail(i, "ushort")
	}
	return 0
}

func (f *fields) uint64(i int) uint64 {
	switch v := f.get(i).(type) {
	case nil:
	case uint64:
		return v
	default:
		f.fail(i, "ulong")
	}
	return 0
}

func (f *fields) ubyte(i int) uint8 {
	switch v := f.get(i).(type) {
	case nil:
	case uint8:
		return v
	default:
		f.fail(i, "ubyte")
	}
	return 0
}

func (f *fields) bool(i int) bool {
	switch v := f.get(i).(type) {
	case nil:
	case bool:
		return v
	default:
		f.fail(i, "boolean")
	}
	return false
}

func (f *fields) string(i int) string {
	switch v := f.get(i).(type) {
	case nil:
	case string:
		return v
	default:
		f.fail(i, "string")
	}
	return ""
}

func (f *fields) symbol(i int) symbol {
	switch v := f.get(i).(type) {
	case nil:
	case symbol:
		return v
	default:
		f.fail(i, "symbol")
	}
	return ""
}

func (f *fields) binary(i int) []byte {
	switch v := f.get(i).(type) {
	case nil:
	case []byte:
		return v
	default:
		f.fail(i, "binary")
	}
	return nil
}

func (f *fields) amqpMap(i int) amqpMap {
	switch v := f.get(i).(type) {
	case nil:
	case amqpMap:
		return v
	default:
		f.fail(i, "map")
	}
	return nil
}

// composite decodes a described list whose descriptor is code.
func composite(v any, code uint64, name string) (*fields, error) {
	d, ok := v.(described)
	if !ok {
		return nil, fmt.Errorf("amqp: %s: not a described type", name)
	}
	if c, ok := d.descriptor.(uint64); !ok || c != code {
		return nil, fmt.Errorf("amqp: %s: unexpected descriptor %v", name, d.descriptor)
	}
	l, ok := d.value.(list)
	if !ok {
		return nil, fmt.Errorf("amqp: %s: value is %T, not a list", name, d.value)
	}
	return &fields{name: name, l: l}, nil
}

// encodeComposite encodes a described list, dropping trailing nulls (§1.3:
// trailing null fields may be omitted). The descriptor is always encoded
// as smallulong: go-amqp refuses any other descriptor encoding for
// performatives (wire-facts S6.1).
func encodeComposite(buf []byte, code uint64, fs ...any) []byte {
	for len(fs) > 0 && fs[len(fs)-1] == nil {
		fs = fs[:len(fs)-1]
	}
	return appendValue(buf, described{descriptor: code, value: list(fs)})
}

// opt returns nil for a nil pointer so absent fields encode as null.
func opt[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// amqpError is the error type (§2.8.14).
type amqpError struct {
	Condition   symbol
	Description string
	Info        amqpMap
}

func (e *amqpError) Error() string { return string(e.Condition) + ": " + e.Description }

func (e *amqpError) value() any {
	if e == nil {
		return nil
	}
	var desc, info any
	if e.Description != "" {
		desc = e.Description
	}
	if len(e.Info) > 0 {
		info = e.Info
	}
	return described{descriptor: uint64(descError), value: trimList(list{e.Condition, desc, info})}
}

func trimList(l list) list {
	for len(l) > 0 && l[len(l)-1] == nil {
		l = l[:len(l)-1]
	}
	return l
}

func decodeError(v any) (*amqpError, error) {
	if v == nil {
		return nil, nil
	}
	f, err := composite(v, descError, "error")
	if err != nil {
		return nil, err
	}
	e := &amqpError{Condition: f.symbol(0), Description: f.string(1), Info: f.amqpMap(2)}
	return e, f.err
}

// Error conditions used by the server (§2.8.15-19 and Service Bus's own).
const (
	condDecodeError      = symbol("amqp:decode-error")
	condNotFound         = symbol("amqp:not-found")
	condUnauthorized     = symbol("amqp:unauthorized-access")
	condInternal         = symbol("amqp:internal-error")
	condNotAllowed       = symbol("amqp:not-allowed")
	condFramingError     = symbol("amqp:connection:framing-error")
	condForced           = symbol("amqp:connection:forced")
	condDetachForced     = symbol("amqp:link:detach-forced")
	condMessageSizeLimit = symbol("amqp:link:message-size-exceeded")
	condResourceLimit    = symbol("amqp:resource-limit-exceeded")
	condLockLost         = symbol("com.microsoft:message-lock-lost")
	condDeadLetter       = symbol("com.microsoft:dead-letter")
)

// open (§2.7.1).
type performOpen struct {
	ContainerID  string
	Hostname     string
	MaxFrameSize uint32 // 0 means absent (the default is 4294967295)
	ChannelMax   uint16
	IdleTimeout  uint32 // milliseconds, 0 means none
}

func decodeOpen(f *fields) (*performOpen, error) {
	o := &performOpen{
		ContainerID:  f.string(0),
		Hostname:     f.string(1),
		MaxFrameSize: f.uint32(2),
		ChannelMax:   65535,
		IdleTimeout:  f.uint32(4),
	}
	if !f.present(2) {
		o.MaxFrameSize = ^uint32(0)
	}
	if f.present(3) {
		o.ChannelMax = f.uint16(3)
	}
	return o, f.err
}

func (o *performOpen) encode(buf []byte) []byte {
	var idle any
	if o.IdleTimeout > 0 {
		idle = o.IdleTimeout
	}
	return encodeComposite(buf, descOpen, o.ContainerID, o.Hostname, o.MaxFrameSize, o.ChannelMax, idle)
}

// begin (§2.7.2).
type performBegin struct {
	RemoteChannel  *uint16
	NextOutgoingID uint32
	IncomingWindow uint32
	OutgoingWindow uint32
	HandleMax      uint32
}

func decodeBegin(f *fields) (*performBegin, error) {
	b := &performBegin{
		NextOutgoingID: f.uint32(1),
		IncomingWindow: f.uint32(2),
		OutgoingWindow: f.uint32(3),
		HandleMax:      ^uint32(0),
	}
	if f.present(0) {
		rc := f.uint16(0)
		b.RemoteChannel = &rc
	}
	if f.present(4) {
		b.HandleMax = f.uint32(4)
	}
	if !f.present(1) || !f.present(2) || !f.present(3) {
		return nil, errors.New("amqp: begin without its mandatory fields")
	}
	return b, f.err
}

func (b *performBegin) encode(buf []byte) []byte {
	return encodeComposite(buf, descBegin, opt(b.RemoteChannel), b.NextOutgoingID, b.IncomingWindow, b.OutgoingWindow, b.HandleMax)
}

// terminus is the part of source (§3.5.3) and target (§3.5.4) the server
// uses; the rest of the client's terminus is kept raw so it can be echoed.
type terminus struct {
	Address string
	raw     list
}

func decodeTerminus(v any, code uint64, name string) (*terminus, error) {
	if v == nil {
		return nil, nil
	}
	f, err := composite(v, code, name)
	if err != nil {
		return nil, err
	}
	// Addresses are "*" typed; Service Bus clients send strings.
	var addr string
	switch a := f.get(0).(type) {
	case string:
		addr = a
	case symbol:
		addr = string(a)
	case nil:
	default:
		return nil, fmt.Errorf("amqp: %s address is %T", name, a)
	}
	return &terminus{Address: addr, raw: f.l}, nil
}

func (t *terminus) value(code uint64) any {
	if t == nil {
		return nil
	}
	l := append(list{}, t.raw...)
	if len(l) == 0 {
		l = list{t.Address}
	}
	return described{descriptor: code, value: l}
}

// attach (§2.7.3).
type performAttach struct {
	Name                 string
	Handle               uint32
	Role                 bool
	SndSettleMode        *uint8
	RcvSettleMode        *uint8
	Source               *terminus
	Target               *terminus
	InitialDeliveryCount uint32
	MaxMessageSize       uint64
	Properties           amqpMap
}

func decodeAttach(f *fields) (*performAttach, error) {
	a := &performAttach{
		Name:                 f.string(0),
		Handle:               f.uint32(1),
		Role:                 f.bool(2),
		InitialDeliveryCount: f.uint32(9),
		MaxMessageSize:       f.uint64(10),
		Properties:           f.amqpMap(13),
	}
	if !f.present(0) || !f.present(1) || !f.present(2) {
		return nil, errors.New("amqp: attach without name, handle or role")
	}
	if f.present(3) {
		m := f.ubyte(3)
		a.SndSettleMode = &m
	}
	if f.present(4) {
		m := f.ubyte(4)
		a.RcvSettleMode = &m
	}
	var err error
	if a.Source, err = decodeTerminus(f.get(5), descSource, "source"); err != nil {
		return nil, err
	}
	if a.Target, err = decodeTerminus(f.get(6), descTarget, "target"); err != nil {
		return nil, err
	}
	return a, f.err
}

func (a *performAttach) encode(buf []byte) []byte {
	var mms, idc, props any
	if a.MaxMessageSize > 0 {
		mms = a.MaxMessageSize
	}
	if a.Role == roleSender {
		// §2.7.3: initial-delivery-count MUST be set by the sender.
		idc = a.InitialDeliveryCount
	}
	if len(a.Properties) > 0 {
		props = a.Properties
	}
	return encodeComposite(buf, descAttach,
		a.Name, a.Handle, a.Role, opt(a.SndSettleMode), opt(a.RcvSettleMode),
		a.Source.value(descSource), a.Target.value(descTarget),
		nil, nil, idc, mms, nil, nil, props)
}

// flow (§2.7.4).
type performFlow struct {
	NextIncomingID *uint32
	IncomingWindow uint32
	NextOutgoingID uint32
	OutgoingWindow uint32
	Handle         *uint32
	DeliveryCount  *uint32
	LinkCredit     *uint32
	Available      *uint32
	Drain          bool
	Echo           bool
}

func decodeFlow(f *fields) (*performFlow, error) {
	fl := &performFlow{
		IncomingWindow: f.uint32(1),
		NextOutgoingID: f.uint32(2),
		OutgoingWindow: f.uint32(3),
		Drain:          f.bool(8),
		Echo:           f.bool(9),
	}
	ptr := func(i int) *uint32 {
		if !f.present(i) {
			return nil
		}
		v := f.uint32(i)
		return &v
	}
	fl.NextIncomingID = ptr(0)
	fl.Handle = ptr(4)
	fl.DeliveryCount = ptr(5)
	fl.LinkCredit = ptr(6)
	fl.Available = ptr(7)
	return fl, f.err
}

func (fl *performFlow) encode(buf []byte) []byte {
	var drain any
	if fl.Drain {
		drain = true
	}
	return encodeComposite(buf, descFlow,
		opt(fl.NextIncomingID), fl.IncomingWindow, fl.NextOutgoingID, fl.OutgoingWindow,
		opt(fl.Handle), opt(fl.DeliveryCount), opt(fl.LinkCredit), opt(fl.Available), drain)
}

// transfer (§2.7.5). The message bytes follow the performative in the
// frame body.
type performTransfer struct {
	Handle        uint32
	DeliveryID    *uint32
	DeliveryTag   []byte
	MessageFormat *uint32
	Settled       bool
	More          bool
	Aborted       bool
}

func decodeTransfer(f *fields) (*performTransfer, error) {
	t := &performTransfer{
		Handle:      f.uint32(0),
		DeliveryTag: f.binary(2),
		Settled:     f.bool(4),
		More:        f.bool(5),
		Aborted:     f.bool(9),
	}
	if !f.present(0) {
		return nil, errors.New("amqp: transfer without handle")
	}
	if f.present(1) {
		id := f.uint32(1)
		t.DeliveryID = &id
	}
	if f.present(3) {
		mf := f.uint32(3)
		t.MessageFormat = &mf
	}
	return t, f.err
}

func (t *performTransfer) encode(buf []byte) []byte {
	var settled, more any
	if t.Settled {
		settled = true
	}
	if t.More {
		more = true
	}
	var tag any
	if t.DeliveryTag != nil {
		tag = t.DeliveryTag
	}
	return encodeComposite(buf, descTransfer, t.Handle, opt(t.DeliveryID), tag, opt(t.MessageFormat), settled, more)
}

// deliveryState is one of the outcomes of §3.4 (or received, §3.4.1).
type deliveryState struct {
	code             uint64
	err              *amqpError // rejected
	deliveryFailed   bool       // modified
	undeliverable    bool       // modified
	annotationsToSet amqpMap    // modified
}

func decodeState(v any) (*deliveryState, error) {
	if v == nil {
		return nil, nil
	}
	d, ok := v.(described)
	if !ok {
		return nil, errors.New("amqp: delivery state is not a described type")
	}
	code, ok := d.descriptor.(uint64)
	if !ok {
		return nil, fmt.Errorf("amqp: delivery state descriptor %v", d.descriptor)
	}
	s := &deliveryState{code: code}
	switch code {
	case descAccepted, descReleased, descReceived:
		if _, ok := d.value.(list); !ok {
			return nil, errors.New("amqp: delivery state value is not a list")
		}
	case descRejected:
		f, err := composite(v, code, "rejected")
		if err != nil {
			return nil, err
		}
		if s.err, err = decodeError(f.get(0)); err != nil {
			return nil, err
		}
	case descModified:
		f, err := composite(v, code, "modified")
		if err != nil {
			return nil, err
		}
		s.deliveryFailed = f.bool(0)
		s.undeliverable = f.bool(1)
		s.annotationsToSet = f.amqpMap(2)
		if f.err != nil {
			return nil, f.err
		}
	default:
		return nil, fmt.Errorf("amqp: unknown delivery state %#x", code)
	}
	return s, nil
}

func (s *deliveryState) value() any {
	if s == nil {
		return nil
	}
	switch s.code {
	case descRejected:
		return described{descriptor: s.code, value: trimList(list{s.err.value()})}
	case descModified:
		var ann any
		if len(s.annotationsToSet) > 0 {
			ann = s.annotationsToSet
		}
		return described{descriptor: s.code, value: trimList(list{s.deliveryFailed, s.undeliverable, ann})}
	}
	return described{descriptor: s.code, value: list{}}
}

var stateAccepted = &deliveryState{code: descAccepted}

// disposition (§2.7.6).
type performDisposition struct {
	Role    bool
	First   uint32
	Last    *uint32
	Settled bool
	State   *deliveryState
}

func decodeDisposition(f *fields) (*performDisposition, error) {
	d := &performDisposition{Role: f.bool(0), First: f.uint32(1), Settled: f.bool(3)}
	if !f.present(0) || !f.present(1) {
		return nil, errors.New("amqp: disposition without role or first")
	}
	if f.present(2) {
		l := f.uint32(2)
		d.Last = &l
	}
	if f.err != nil {
		return nil, f.err
	}
	var err error
	d.State, err = decodeState(f.get(4))
	return d, err
}

func (d *performDisposition) encode(buf []byte) []byte {
	var settled any
	if d.Settled {
		settled = true
	}
	return encodeComposite(buf, descDisposition, d.Role, d.First, opt(d.Last), settled, d.State.value())
}

// detach (§2.7.7).
type performDetach struct {
	Handle uint32
	Closed bool
	Error  *amqpError
}

func decodeDetach(f *fields) (*performDetach, error) {
	d := &performDetach{Handle: f.uint32(0), Closed: f.bool(1)}
	if !f.present(0) {
		return nil, errors.New("amqp: detach without handle")
	}
	if f.err != nil {
		return nil, f.err
	}
	var err error
	d.Error, err = decodeError(f.get(2))
	return d, err
}

func (d *performDetach) encode(buf []byte) []byte {
	var closed any
	if d.Closed {
		closed = true
	}
	return encodeComposite(buf, descDetach, d.Handle, closed, d.Error.value())
}

// end (§2.7.8) and close (§2.7.9) carry only an optional error.
type performEnd struct{ Error *amqpError }
type performClose struct{ Error *amqpError }

func (e *performEnd) encode(buf []byte) []byte {
	return encodeComposite(buf, descEnd, e.Error.value())
}

func (c *performClose) encode(buf []byte) []byte {
	return encodeComposite(buf, descClose, c.Error.value())
}

// performativeName names a decoded performative for error messages.
func performativeName(p any) string {
	switch p.(type) {
	case *performAttach:
		return "attach"
	case *performFlow:
		return "flow"
	case *performTransfer:
		return "transfer"
	case *performDisposition:
		return "disposition"
	case *performDetach:
		return "detach"
	case *performEnd:
		return "end"
	}
	return fmt.Sprintf("%T", p)
}

// decodePerformative decodes the performative at the start of an AMQP frame
// body and returns it with the payload that follows (transfers only).
func decodePerformative(body []byte) (any, []byte, error) {
	v, n, err := decodeValue(body)
	if err != nil {
		return nil, nil, err
	}
	d, ok := v.(described)
	if !ok {
		return nil, nil, errors.New("amqp: frame body is not a described performative")
	}
	code, ok := d.descriptor.(uint64)
	if !ok {
		return nil, nil, fmt.Errorf("amqp: performative descriptor %v is not a ulong", d.descriptor)
	}
	payload := body[n:]
	if code != descTransfer && len(payload) > 0 {
		return nil, nil, errors.New("amqp: payload after a non-transfer performative")
	}
	names := map[uint64]string{
		descOpen: "open", descBegin: "begin", descAttach: "attach", descFlow: "flow",
		descTransfer: "transfer", descDisposition: "disposition", descDetach: "detach",
		descEnd: "end", descClose: "close",
	}
	name, known := names[code]
	if !known {
		return nil, nil, fmt.Errorf("amqp: unknown performative %#x", code)
	}
	f, err := composite(v, code, name)
	if err != nil {
		return nil, nil, err
	}
	var p any
	switch code {
	case descOpen:
		p, err = decodeOpen(f)
	case descBegin:
		p, err = decodeBegin(f)
	case descAttach:
		p, err = decodeAttach(f)
	case descFlow:
		p, err = decodeFlow(f)
	case descTransfer:
		p, err = decodeTransfer(f)
	case descDisposition:
		p, err = decodeDisposition(f)
	case descDetach:
		p, err = decodeDetach(f)
	case descEnd:
		var e *amqpError
		e, err = decodeError(f.get(0))
		p = &performEnd{Error: e}
	case descClose:
		var e *amqpError
		e, err = decodeError(f.get(0))
		p = &performClose{Error: e}
	}
	if err != nil {
		return nil, nil, err
	}
	return p, payload, nil
}
