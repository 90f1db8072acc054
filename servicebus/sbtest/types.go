package sbtest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// This file is the AMQP 1.0 type system (OASIS AMQP 1.0, part 1 "Types",
// §1.6 primitive type definitions and §1.2 described types). Decoded values
// keep their exact wire width (uint8 stays uint8, a symbol stays a symbol)
// so that anything decoded can be re-encoded unchanged, which the attach
// echo relies on.

// symbol is the AMQP symbol type (§1.6.21): ASCII, distinct from string.
type symbol string

// uuidValue is the AMQP uuid type (§1.6.18), 16 bytes in RFC 4122 order.
type uuidValue [16]byte

// charValue is the AMQP char type (§1.6.16), one UTF-32BE code point.
type charValue rune

// decimalValue keeps the raw bytes of decimal32/64/128 (§1.6.13-15): the
// server never interprets them, it only has to skip them without failing.
type decimalValue []byte

// described is a described type (§1.2): a descriptor followed by a value.
type described struct {
	descriptor any
	value      any
}

// list is the AMQP list type (§1.6.22), a sequence of polymorphic values.
type list []any

// mapEntry is one key/value pair of an AMQP map.
type mapEntry struct {
	key, value any
}

// amqpMap is the AMQP map type (§1.6.23). Kept as ordered pairs because keys
// may be of any type (including ones that are not comparable in Go) and
// because re-encoding must not reorder them.
type amqpMap []mapEntry

// get returns the value stored under a string or symbol key.
func (m amqpMap) get(key string) (any, bool) {
	for _, e := range m {
		switch k := e.key.(type) {
		case symbol:
			if string(k) == key {
				return e.value, true
			}
		case string:
			if k == key {
				return e.value, true
			}
		}
	}
	return nil, false
}

// array is the AMQP array type (§1.6.24): every element shares one
// constructor. elemCode records that constructor so an array re-encodes with
// the same element type even when it is empty.
type array struct {
	elemCode byte
	elems    []any
}

// Type constructors (format codes), from the encoding table in §1.6.
const (
	codeDescribed  = 0x00
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeBool       = 0x56
	codeUbyte      = 0x50
	codeUshort     = 0x60
	codeUint       = 0x70
	codeSmallUint  = 0x52
	codeUint0      = 0x43
	codeUlong      = 0x80
	codeSmallUlong = 0x53
	codeUlong0     = 0x44
	codeByte       = 0x51
	codeShort      = 0x61
	codeInt        = 0x71
	codeSmallInt   = 0x54
	codeLong       = 0x81
	codeSmallLong  = 0x55
	codeFloat      = 0x72
	codeDouble     = 0x82
	codeDecimal32  = 0x74
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeChar       = 0x73
	codeTimestamp  = 0x83
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeVbin32     = 0xb0
	codeStr8       = 0xa1
	codeStr32      = 0xb1
	codeSym8       = 0xa3
	codeSym32      = 0xb3
	codeList0      = 0x45
	codeList8      = 0xc0
	codeList32     = 0xd0
	codeMap8       = 0xc1
	codeMap32      = 0xd1
	codeArray8     = 0xe0
	codeArray32    = 0xf0
)

// maxDepth bounds nesting so that a hostile frame of nested lists cannot
// exhaust the stack of the connection goroutine.
const maxDepth = 64

var errShort = errors.New("amqp: value truncated")

// decodeValue decodes one value (constructor and data) from b and returns it
// together with the number of bytes consumed.
func decodeValue(b []byte) (any, int, error) {
	return decodeAt(b, 0)
}

func decodeAt(b []byte, depth int) (any, int, error) {
	if depth > maxDepth {
		return nil, 0, errors.New("amqp: values nested too deeply")
	}
	if len(b) < 1 {
		return nil, 0, errShort
	}
	if b[0] == codeDescribed {
		d, n, err := decodeAt(b[1:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		if _, ok := d.(described); ok {
			// §1.2: a descriptor is itself a value, but nesting described
			// descriptors is never used and only serves to confuse.
			return nil, 0, errors.New("amqp: described descriptor")
		}
		v, m, err := decodeAt(b[1+n:], depth+1)
		if err != nil {
			return nil, 0, err
		}
		return described{descriptor: d, value: v}, 1 + n + m, nil
	}
	v, n, err := decodeBody(b[0], b[1:], depth)
	return v, 1 + n, err
}

// decodeBody decodes the data that follows constructor code.
func decodeBody(code byte, b []byte, depth int) (any, int, error) {
	need := func(n int) error {
		if len(b) < n {
			return errShort
		}
		return nil
	}
	switch code {
	case codeNull:
		return nil, 0, nil
	case codeTrue:
		return true, 0, nil
	case codeFalse:
		return false, 0, nil
	case codeBool:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		switch b[0] {
		case 0:
			return false, 1, nil
		case 1:
			return true, 1, nil
		}
		return nil, 0, fmt.Errorf("amqp: invalid boolean byte %#x", b[0])
	case codeUbyte:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return b[0], 1, nil
	case codeByte:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return int8(b[0]), 1, nil
	case codeUshort:
		if err := need(2); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.Uint16(b), 2, nil
	case codeShort:
		if err := need(2); err != nil {
			return nil, 0, err
		}
		return int16(binary.BigEndian.Uint16(b)), 2, nil
	case codeUint0:
		return uint32(0), 0, nil
	case codeSmallUint:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return uint32(b[0]), 1, nil
	case codeUint:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.Uint32(b), 4, nil
	case codeSmallInt:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return int32(int8(b[0])), 1, nil
	case codeInt:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return int32(binary.BigEndian.Uint32(b)), 4, nil
	case codeChar:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return charValue(binary.BigEndian.Uint32(b)), 4, nil
	case codeFloat:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return math.Float32frombits(binary.BigEndian.Uint32(b)), 4, nil
	case codeDecimal32:
		if err := need(4); err != nil {
			return nil, 0, err
		}
		return decimalValue(append([]byte(nil), b[:4]...)), 4, nil
	case codeUlong0:
		return uint64(0), 0, nil
	case codeSmallUlong:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return uint64(b[0]), 1, nil
	case codeUlong:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return binary.BigEndian.Uint64(b), 8, nil
	case codeSmallLong:
		if err := need(1); err != nil {
			return nil, 0, err
		}
		return int64(int8(b[0])), 1, nil
	case codeLong:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return int64(binary.BigEndian.Uint64(b)), 8, nil
	case codeDouble:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return math.Float64frombits(binary.BigEndian.Uint64(b)), 8, nil
	case codeDecimal64:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		return decimalValue(append([]byte(nil), b[:8]...)), 8, nil
	case codeTimestamp:
		if err := need(8); err != nil {
			return nil, 0, err
		}
		// §1.6.17: milliseconds since the Unix epoch, signed 64-bit.
		return time.UnixMilli(int64(binary.BigEndian.Uint64(b))).UTC(), 8, nil
	case codeUUID, codeDecimal128:
		if err := need(16); err != nil {
			return nil, 0, err
		}
		if code == codeDecimal128 {
			return decimalValue(append([]byte(nil), b[:16]...)), 16, nil
		}
		var u uuidValue
		copy(u[:], b)
		return u, 16, nil
	case codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32:
		var size, hdr int
		if code&0xf0 == 0xa0 {
			if err := need(1); err != nil {
				return nil, 0, err
			}
			size, hdr = int(b[0]), 1
		} else {
			if err := need(4); err != nil {
				return nil, 0, err
			}
			size, hdr = int(binary.BigEndian.Uint32(b)), 4
		}
		if size < 0 || len(b)-hdr < size {
			return nil, 0, errShort
		}
		raw := b[hdr : hdr+size]
		switch code {
		case codeVbin8, codeVbin32:
			return append([]byte{}, raw...), hdr + size, nil
		case codeStr8, codeStr32:
			if !utf8.Valid(raw) {
				return nil, 0, errors.New("amqp: string is not valid UTF-8")
			}
			return string(raw), hdr + size, nil
		default:
			return symbol(raw), hdr + size, nil
		}
	case codeList0:
		return list{}, 0, nil
	case codeList8, codeList32, codeMap8, codeMap32:
		short := code == codeList8 || code == codeMap8
		elems, used, err := compoundElems(short, b)
		if err != nil {
			return nil, 0, err
		}
		count := elems.count
		// Each element takes at least one byte: reject impossible counts
		// before allocating anything.
		if count > len(elems.data) {
			return nil, 0, errors.New("amqp: compound count exceeds its size")
		}
		vals := make([]any, 0, count)
		off := 0
		for i := 0; i < count; i++ {
			v, n, err := decodeAt(elems.data[off:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			vals = append(vals, v)
			off += n
		}
		if off != len(elems.data) {
			return nil, 0, errors.New("amqp: compound size does not match its contents")
		}
		if code == codeList8 || code == codeList32 {
			return list(vals), used, nil
		}
		if count%2 != 0 {
			return nil, 0, errors.New("amqp: map with an odd number of elements")
		}
		m := make(amqpMap, 0, count/2)
		for i := 0; i < count; i += 2 {
			m = append(m, mapEntry{key: vals[i], value: vals[i+1]})
		}
		return m, used, nil
	case codeArray8, codeArray32:
		elems, used, err := compoundElems(code == codeArray8, b)
		if err != nil {
			return nil, 0, err
		}
		body, count := elems.data, elems.count
		if len(body) < 1 {
			return nil, 0, errShort
		}
		off := 0
		var desc any
		hasDesc := false
		if body[0] == codeDescribed {
			d, n, err := decodeAt(body[1:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			desc, hasDesc, off = d, true, 1+n
		}
		if off >= len(body) {
			return nil, 0, errShort
		}
		elem := body[off]
		off++
		if elem == codeDescribed {
			return nil, 0, errors.New("amqp: malformed array constructor")
		}
		// Zero-width elements (null, true, uint0, ...) take no bytes, so
		// bound their count separately; every other element takes at
		// least one byte.
		if (elem>>4 == 0x4 && count > 4096) || (elem>>4 != 0x4 && count > len(body)-off) {
			return nil, 0, errors.New("amqp: array count exceeds its size")
		}
		vals := make([]any, 0, count)
		for i := 0; i < count; i++ {
			v, n, err := decodeBody(elem, body[off:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			if hasDesc {
				v = described{descriptor: desc, value: v}
			}
			vals = append(vals, v)
			off += n
		}
		if off != len(body) {
			return nil, 0, errors.New("amqp: array size does not match its contents")
		}
		return array{elemCode: elem, elems: vals}, used, nil
	}
	return nil, 0, fmt.Errorf("amqp: unknown type constructor %#02x", code)
}

// compoundBody is the element part of a list, map or array.
type compoundBody struct {
	data  []byte
	count int
}

// compoundElems reads size and count of a list/map/array (§1.6.22-24:
// size is 1 or 4 bytes, then count of the same width; size counts the
// bytes of count plus the elements). used is the number of bytes consumed
// after the constructor.
func compoundElems(short bool, b []byte) (compoundBody, int, error) {
	var size, count, w int
	if short {
		if len(b) < 2 {
			return compoundBody{}, 0, errShort
		}
		size, count, w = int(b[0]), int(b[1]), 1
	} else {
		if len(b) < 8 {
			return compoundBody{}, 0, errShort
		}
		s, c := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
		if s > math.MaxInt32 || c > math.MaxInt32 {
			return compoundBody{}, 0, errors.New("amqp: compound too large")
		}
		size, count, w = int(s), int(c), 4
	}
	if size < w || len(b)-w < size {
		return compoundBody{}, 0, errShort
	}
	return compoundBody{data: b[2*w : w+size], count: count}, w + size, nil
}

// appendValue appends the encoding of v to buf, choosing the most compact
// constructor the specification allows (§1.6: e.g. smalluint for values
// below 256, uint0 for zero). It panics only on a Go type the server never
// produces, which is a programming error caught by the tests.
func appendValue(buf []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, codeNull)
	case bool:
		if v {
			return append(buf, codeTrue)
		}
		return append(buf, codeFalse)
	case uint8:
		return append(buf, codeUbyte, v)
	case int8:
		return append(buf, codeByte, byte(v))
	case uint16:
		return binary.BigEndian.AppendUint16(append(buf, codeUshort), v)
	case int16:
		return binary.BigEndian.AppendUint16(append(buf, codeShort), uint16(v))
	case uint32:
		switch {
		case v == 0:
			return append(buf, codeUint0)
		case v < 256:
			return append(buf, codeSmallUint, byte(v))
		}
		return binary.BigEndian.AppendUint32(append(buf, codeUint), v)
	case int32:
		if v >= -128 && v <= 127 {
			return append(buf, codeSmallInt, byte(int8(v)))
		}
		return binary.BigEndian.AppendUint32(append(buf, codeInt), uint32(v))
	case uint64:
		switch {
		case v == 0:
			return append(buf, codeUlong0)
		case v < 256:
			return append(buf, codeSmallUlong, byte(v))
		}
		return binary.BigEndian.AppendUint64(append(buf, codeUlong), v)
	case int64:
		if v >= -128 && v <= 127 {
			return append(buf, codeSmallLong, byte(int8(v)))
		}
		return binary.BigEndian.AppendUint64(append(buf, codeLong), uint64(v))
	case float32:
		return binary.BigEndian.AppendUint32(append(buf, codeFloat), math.Float32bits(v))
	case float64:
		return binary.BigEndian.AppendUint64(append(buf, codeDouble), math.Float64bits(v))
	case charValue:
		return binary.BigEndian.AppendUint32(append(buf, codeChar), uint32(v))
	case decimalValue:
		switch len(v) {
		case 4:
			return append(append(buf, codeDecimal32), v...)
		case 8:
			return append(append(buf, codeDecimal64), v...)
		default:
			return append(append(buf, codeDecimal128), v...)
		}
	case time.Time:
		return binary.BigEndian.AppendUint64(append(buf, codeTimestamp), uint64(v.UnixMilli()))
	case uuidValue:
		return append(append(buf, codeUUID), v[:]...)
	case []byte:
		return appendVariable(buf, codeVbin8, codeVbin32, v)
	case string:
		return appendVariable(buf, codeStr8, codeStr32, []byte(v))
	case symbol:
		return appendVariable(buf, codeSym8, codeSym32, []byte(v))
	case list:
		return appendList(buf, v)
	case []any:
		return appendList(buf, v)
	case amqpMap:
		var body []byte
		for _, e := range v {
			body = appendValue(body, e.key)
			body = appendValue(body, e.value)
		}
		return appendCompound(buf, codeMap8, codeMap32, 2*len(v), body)
	case []symbol:
		elems := make([]any, len(v))
		for i, s := range v {
			elems[i] = s
		}
		return appendArray(buf, array{elemCode: codeSym32, elems: elems})
	case array:
		return appendArray(buf, v)
	case described:
		buf = append(buf, codeDescribed)
		buf = appendValue(buf, v.descriptor)
		return appendValue(buf, v.value)
	}
	panic(fmt.Sprintf("sbtest: cannot encode %T", v))
}

func appendVariable(buf []byte, short, long byte, data []byte) []byte {
	if len(data) < 256 {
		buf = append(buf, short, byte(len(data)))
	} else {
		buf = binary.BigEndian.AppendUint32(append(buf, long), uint32(len(data)))
	}
	return append(buf, data...)
}

func appendList(buf []byte, elems []any) []byte {
	if len(elems) == 0 {
		return append(buf, codeList0)
	}
	var body []byte
	for _, e := range elems {
		body = appendValue(body, e)
	}
	return appendCompound(buf, codeList8, codeList32, len(elems), body)
}

// appendCompound writes size and count; size includes the count field
// (§1.6.22: "size" covers count and elements).
func appendCompound(buf []byte, short, long byte, count int, body []byte) []byte {
	if len(body)+1 < 256 && count < 256 {
		buf = append(buf, short, byte(len(body)+1), byte(count))
	} else {
		buf = append(buf, long)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(body)+4))
		buf = binary.BigEndian.AppendUint32(buf, uint32(count))
	}
	return append(buf, body...)
}

// appendArray encodes an array with one shared constructor. Elements are
// written without their constructor byte, so each element is encoded with
// the array's element code forced (variable-width types always use the
// 32-bit form there, which every decoder accepts).
func appendArray(buf []byte, a array) []byte {
	code := a.elemCode
	var body []byte
	var desc any
	hasDesc := false
	for _, e := range a.elems {
		if d, ok := e.(described); ok {
			desc, hasDesc, e = d.descriptor, true, d.value
		}
		body = appendElement(body, code, e)
	}
	var head []byte
	if hasDesc {
		head = appendValue([]byte{codeDescribed}, desc)
	}
	head = append(head, code)
	all := append(head, body...)
	if len(all)+1 < 256 && len(a.elems) < 256 {
		buf = append(buf, codeArray8, byte(len(all)+1), byte(len(a.elems)))
	} else {
		buf = append(buf, codeArray32)
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(all)+4))
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(a.elems)))
	}
	return append(buf, all...)
}

// appendElement encodes e as array element data for constructor code.
func appendElement(buf []byte, code byte, e any) []byte {
	switch code {
	case codeSym8, codeStr8, codeVbin8, codeSym32, codeStr32, codeVbin32:
		var data []byte
		switch v := e.(type) {
		case symbol:
			data = []byte(v)
		case string:
			data = []byte(v)
		case []byte:
			data = v
		}
		if code&0xf0 == 0xa0 && len(data) < 256 {
			return append(append(buf, byte(len(data))), data...)
		}
		return append(binary.BigEndian.AppendUint32(buf, uint32(len(data))), data...)
	}
	enc := appendValue(nil, e)
	if len(enc) == 0 {
		return buf
	}
	if enc[0] != code {
		// The element's natural compact form differs from the array's
		// constructor (e.g. smalluint inside a uint array): widen it.
		enc = widen(code, e)
	}
	return append(buf, enc[1:]...)
}

// widen encodes e with exactly constructor code.
func widen(code byte, e any) []byte {
	switch code {
	case codeUint:
		if v, ok := e.(uint32); ok {
			return binary.BigEndian.AppendUint32([]byte{code}, v)
		}
	case codeUlong:
		if v, ok := e.(uint64); ok {
			return binary.BigEndian.AppendUint64([]byte{code}, v)
		}
	case codeInt:
		if v, ok := e.(int32); ok {
			return binary.BigEndian.AppendUint32([]byte{code}, uint32(v))
		}
	case codeLong:
		if v, ok := e.(int64); ok {
			return binary.BigEndian.AppendUint64([]byte{code}, uint64(v))
		}
	case codeSmallUint, codeSmallUlong, codeSmallInt, codeSmallLong:
		enc := appendValue(nil, e)
		if len(enc) == 2 {
			return append([]byte{code}, enc[1])
		}
	}
	panic(fmt.Sprintf("sbtest: cannot encode %T as array element %#02x", e, code))
}
