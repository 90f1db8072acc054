package sbtest

import (
	"fmt"
	"time"

	"github.com/Azure/go-amqp"
)

// This file is the $management request/response node (AMQP Management
// draft as Service Bus documents it): requests arrive on
// "<entity>/$management" with an "operation" application property and a
// map body; responses carry status-code/status-description and a map body.

// Status codes Service Bus uses on $management (HTTP numbers).
const (
	statusOK         = 200
	statusNoContent  = 204 // no messages: the client treats it as "none"
	statusBadRequest = 400
	statusNotFound   = 404
	statusGone       = 410 // lock lost: the client maps it to ErrLockLost
	statusNotImpl    = 501
)

// management answers one request about the entity at path.
func (s *Server) management(path string, req *amqp.Message, now time.Time) *amqp.Message {
	op, _ := req.ApplicationProperties["operation"].(string)
	body, _ := req.Value.(map[string]any)
	q := s.receiveSource(path)
	needQueue := func() *amqp.Message {
		return rpcResponse(statusNotFound, "entity "+path+" has no messages to operate on", nil)
	}
	switch op {
	case "com.microsoft:renew-lock":
		if q == nil {
			return needQueue()
		}
		if s.faults.takeRenewIgnore() {
			return nil // IgnoreLockRenewals: no answer
		}
		return q.renewLocks(body, now)
	case "com.microsoft:peek-message":
		if q == nil {
			return needQueue()
		}
		return q.peek(body)
	case "com.microsoft:receive-by-sequence-number":
		if q == nil {
			return needQueue()
		}
		return q.receiveDeferred(body, now)
	case "com.microsoft:update-disposition":
		if q == nil {
			return needQueue()
		}
		return q.updateDisposition(body, now)
	case "com.microsoft:schedule-message":
		return s.schedule(path, body, now)
	case "com.microsoft:cancel-scheduled-message":
		return s.cancelScheduled(path, body)
	}
	return rpcResponse(statusNotImpl, fmt.Sprintf("operation %q is not supported by sbtest", op), nil)
}

func lockLost() *amqp.Message {
	return rpcResponse(statusGone, "The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.", nil)
}

func (q *queue) renewLocks(body map[string]any, now time.Time) *amqp.Message {
	tokens, ok := uuids(body["lock-tokens"])
	if !ok {
		return rpcResponse(statusBadRequest, "lock-tokens must be an array of uuid", nil)
	}
	expirations := make([]time.Time, 0, len(tokens))
	for _, t := range tokens {
		m := q.locked[t]
		if m == nil {
			return lockLost()
		}
		m.lockedUntil = timeValue(now.Add(q.lockDuration))
		expirations = append(expirations, m.lockedUntil.Add(q.srv.cfg.skew))
		q.srv.renewals++
	}
	// The client requires exactly an array of timestamps here.
	return rpcResponse(statusOK, "OK", map[string]any{"expirations": expirations})
}

func (q *queue) peek(body map[string]any) *amqp.Message {
	from, _ := toInt64(body["from-sequence-number"])
	count, _ := toInt64(body["message-count"])
	if count <= 0 {
		count = 1
	}
	var out []any
	for _, m := range q.all() {
		if m.seq < from {
			continue
		}
		if int64(len(out)) >= count {
			break
		}
		payload, err := q.render(m, false)
		if err != nil {
			continue
		}
		out = append(out, map[string]any{"message": payload})
	}
	if len(out) == 0 {
		return rpcResponse(statusNoContent, "No messages", nil)
	}
	return rpcResponse(statusOK, "OK", map[string]any{"messages": out})
}

func (q *queue) receiveDeferred(body map[string]any, now time.Time) *amqp.Message {
	seqs, ok := int64s(body["sequence-numbers"])
	if !ok {
		return rpcResponse(statusBadRequest, "sequence-numbers must be an array of long", nil)
	}
	mode, _ := toInt64(body["receiver-settle-mode"])
	var out []any
	for _, seq := range seqs {
		m := q.deferred[seq]
		if m == nil {
			continue
		}
		delete(q.deferred, seq)
		m.deliveryCount++
		entry := map[string]any{}
		if mode == 1 {
			// Peek-lock: the lock token travels in a delivery annotation
			// because there is no delivery tag (wire-facts S4).
			q.lock(m, now)
			entry["lock-token"] = m.lockToken
		}
		payload, err := q.render(m, true)
		if err != nil {
			continue
		}
		entry["message"] = payload
		out = append(out, entry)
	}
	if len(out) == 0 {
		return rpcResponse(statusNoContent, "No messages", nil)
	}
	return rpcResponse(statusOK, "OK", map[string]any{"messages": out})
}

func (q *queue) updateDisposition(body map[string]any, now time.Time) *amqp.Message {
	tokens, ok := uuids(body["lock-tokens"])
	if !ok {
		return rpcResponse(statusBadRequest, "lock-tokens must be an array of uuid", nil)
	}
	status, _ := body["disposition-status"].(string)
	var st settlement
	switch status {
	case "completed":
		st.kind = settleComplete
	case "abandoned":
		st.kind = settleAbandon
	case "suspended":
		st.kind = settleDeadLetter
		st.reason, _ = body["deadletter-reason"].(string)
		st.description, _ = body["deadletter-description"].(string)
	case "defered", "deferred": // the client spells it "defered"
		st.kind = settleDefer
	default:
		return rpcResponse(statusBadRequest, "unknown disposition-status", nil)
	}
	st.props, _ = body["properties-to-modify"].(map[string]any)
	for _, t := range tokens {
		if !q.settle(t, st, now) {
			return lockLost()
		}
	}
	return rpcResponse(statusOK, "OK", nil)
}

func (s *Server) schedule(path string, body map[string]any, now time.Time) *amqp.Message {
	targets, ok := s.sendTarget(path)
	if !ok {
		return rpcResponse(statusNotFound, "cannot schedule on "+path, nil)
	}
	entries, _ := body["messages"].([]any)
	var seqs []int64
	for _, e := range entries {
		em, _ := e.(map[string]any)
		raw, _ := em["message"].([]byte)
		m := new(amqp.Message)
		if err := m.UnmarshalBinary(raw); err != nil {
			return rpcResponse(statusBadRequest, "scheduled message could not be decoded", nil)
		}
		seqs = append(seqs, s.enqueue(targets, m, now)...)
	}
	return rpcResponse(statusOK, "OK", map[string]any{"sequence-numbers": seqs})
}

func (s *Server) cancelScheduled(path string, body map[string]any) *amqp.Message {
	targets, ok := s.sendTarget(path)
	if !ok {
		return rpcResponse(statusNotFound, "cannot cancel on "+path, nil)
	}
	seqs, ok := int64s(body["sequence-numbers"])
	if !ok {
		return rpcResponse(statusBadRequest, "sequence-numbers must be an array of long", nil)
	}
	for _, seq := range seqs {
		for _, q := range targets {
			delete(q.scheduled, seq)
		}
	}
	return rpcResponse(statusOK, "OK", nil)
}

// uuids accepts the array forms go-amqp decodes a uuid array into.
func uuids(v any) ([]amqp.UUID, bool) {
	switch v := v.(type) {
	case []amqp.UUID:
		return v, true
	case []any:
		out := make([]amqp.UUID, 0, len(v))
		for _, e := range v {
			u, ok := e.(amqp.UUID)
			if !ok {
				return nil, false
			}
			out = append(out, u)
		}
		return out, true
	}
	return nil, false
}

func int64s(v any) ([]int64, bool) {
	switch v := v.(type) {
	case []int64:
		return v, true
	case []any:
		out := make([]int64, 0, len(v))
		for _, e := range v {
			n, ok := toInt64(e)
			if !ok {
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	return nil, false
}

func toInt64(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int32:
		return int64(v), true
	case int16:
		return int64(v), true
	case int8:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint8:
		return int64(v), true
	case uint64:
		if v <= 1<<63-1 {
			return int64(v), true
		}
	}
	return 0, false
}
