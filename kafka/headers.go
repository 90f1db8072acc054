package kafka

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pullkit/broker"
)

// typePrefix starts the key of the header that records the Go type of a
// non-string attribute: attribute "n" = int64(7) travels as the headers
// "n" = "7" and "pullkit.type.n" = "int64". Strings travel alone, raw, so
// every Kafka tool reads them as they are.
const typePrefix = "pullkit.type."

// Type names, as written in type headers.
const (
	tBytes    = "bytes"
	tBool     = "bool"
	tInt      = "int"
	tInt8     = "int8"
	tInt16    = "int16"
	tInt32    = "int32"
	tInt64    = "int64"
	tUint     = "uint"
	tUint8    = "uint8"
	tUint16   = "uint16"
	tUint32   = "uint32"
	tUint64   = "uint64"
	tFloat32  = "float32"
	tFloat64  = "float64"
	tTime     = "time"
	tDuration = "duration"
)

// encodeAttributes validates attrs (as broker.ValidateAttributes does, and
// refusing keys that would collide with type headers) and encodes them as
// headers, in one pass over the map.
func encodeAttributes(attrs map[string]any) ([]kgo.RecordHeader, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	for k, v := range attrs {
		switch {
		case k == "":
			return nil, fmt.Errorf("%w: empty key", broker.ErrInvalidAttribute)
		case v == nil:
			return nil, fmt.Errorf("%w: key %q: nil value", broker.ErrInvalidAttribute, k)
		case !broker.AttributeSupported(v):
			return nil, fmt.Errorf("%w: key %q: unsupported type %T", broker.ErrInvalidAttribute, k, v)
		case strings.HasPrefix(k, typePrefix):
			return nil, fmt.Errorf("%w: key %q: the prefix %q is reserved for type headers", broker.ErrInvalidAttribute, k, typePrefix)
		}
	}
	return appendHeaders(make([]kgo.RecordHeader, 0, len(attrs)), attrs), nil
}

// stringOf shares a byte slice's memory as a string without copying:
// fetched records' bytes are never written again.
func stringOf(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// bytesOf shares a string's bytes without copying; franz-go only reads
// header values.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// appendHeaders encodes attrs as headers, appending to hs. Values were
// validated by broker.ValidateAttributes.
func appendHeaders(hs []kgo.RecordHeader, attrs map[string]any) []kgo.RecordHeader {
	for k, v := range attrs {
		var (
			val []byte
			typ string
		)
		switch v := v.(type) {
		case string:
			hs = append(hs, kgo.RecordHeader{Key: k, Value: bytesOf(v)})
			continue
		case []byte:
			val, typ = v, tBytes
		case bool:
			val, typ = strconv.AppendBool(nil, v), tBool
		case int:
			val, typ = strconv.AppendInt(nil, int64(v), 10), tInt
		case int8:
			val, typ = strconv.AppendInt(nil, int64(v), 10), tInt8
		case int16:
			val, typ = strconv.AppendInt(nil, int64(v), 10), tInt16
		case int32:
			val, typ = strconv.AppendInt(nil, int64(v), 10), tInt32
		case int64:
			val, typ = strconv.AppendInt(nil, v, 10), tInt64
		case uint:
			val, typ = strconv.AppendUint(nil, uint64(v), 10), tUint
		case uint8:
			val, typ = strconv.AppendUint(nil, uint64(v), 10), tUint8
		case uint16:
			val, typ = strconv.AppendUint(nil, uint64(v), 10), tUint16
		case uint32:
			val, typ = strconv.AppendUint(nil, uint64(v), 10), tUint32
		case uint64:
			val, typ = strconv.AppendUint(nil, v, 10), tUint64
		case float32:
			val, typ = strconv.AppendFloat(nil, float64(v), 'g', -1, 32), tFloat32
		case float64:
			val, typ = strconv.AppendFloat(nil, v, 'g', -1, 64), tFloat64
		case time.Time:
			val, typ = v.AppendFormat(nil, time.RFC3339Nano), tTime
		case time.Duration:
			val, typ = strconv.AppendInt(nil, int64(v), 10), tDuration
		default:
			continue // unreachable after validation
		}
		hs = append(hs,
			kgo.RecordHeader{Key: k, Value: val},
			kgo.RecordHeader{Key: typePrefix + k, Value: bytesOf(typ)})
	}
	return hs
}

// headerBytes is the size headers add to a record, for the size check.
func headerBytes(hs []kgo.RecordHeader) int {
	n := 0
	for _, h := range hs {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// decodeHeaders turns headers back into attributes: a header with a type
// header is parsed into that type; any other header is a string. A value
// that does not parse as its declared type stays a string rather than
// being dropped. Nil when there are no headers.
func decodeHeaders(hs []kgo.RecordHeader) map[string]any {
	if len(hs) == 0 {
		return nil
	}
	attrs := make(map[string]any, len(hs))
	var types map[string]string
	for _, h := range hs {
		if name, ok := strings.CutPrefix(h.Key, typePrefix); ok {
			if types == nil {
				types = map[string]string{}
			}
			types[name] = stringOf(h.Value)
			continue
		}
		attrs[h.Key] = stringOf(h.Value)
	}
	for k, typ := range types {
		s, ok := attrs[k].(string)
		if !ok {
			continue
		}
		if v, ok := parseTyped(s, typ); ok {
			attrs[k] = v
		}
	}
	return attrs
}

func parseTyped(s, typ string) (any, bool) {
	var (
		v   any
		err error
	)
	switch typ {
	case tBytes:
		return []byte(s), true // a copy: the caller may write to it
	case tBool:
		v, err = strconv.ParseBool(s)
	case tInt:
		var n int64
		n, err = strconv.ParseInt(s, 10, strconv.IntSize)
		v = int(n)
	case tInt8:
		var n int64
		n, err = strconv.ParseInt(s, 10, 8)
		v = int8(n)
	case tInt16:
		var n int64
		n, err = strconv.ParseInt(s, 10, 16)
		v = int16(n)
	case tInt32:
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		v = int32(n)
	case tInt64:
		v, err = strconv.ParseInt(s, 10, 64)
	case tUint:
		var n uint64
		n, err = strconv.ParseUint(s, 10, strconv.IntSize)
		v = uint(n)
	case tUint8:
		var n uint64
		n, err = strconv.ParseUint(s, 10, 8)
		v = uint8(n)
	case tUint16:
		var n uint64
		n, err = strconv.ParseUint(s, 10, 16)
		v = uint16(n)
	case tUint32:
		var n uint64
		n, err = strconv.ParseUint(s, 10, 32)
		v = uint32(n)
	case tUint64:
		v, err = strconv.ParseUint(s, 10, 64)
	case tFloat32:
		var f float64
		f, err = strconv.ParseFloat(s, 32)
		v = float32(f)
	case tFloat64:
		v, err = strconv.ParseFloat(s, 64)
	case tTime:
		v, err = time.Parse(time.RFC3339Nano, s)
	case tDuration:
		var n int64
		n, err = strconv.ParseInt(s, 10, 64)
		v = time.Duration(n)
	default:
		return nil, false
	}
	return v, err == nil
}

// attrCache reuses the attributes decoded for the previous record when the
// next one has the same headers: producers usually send one header set for
// many records, and attributes are read-only (as on every backend of this
// module), so records may share the map. Not safe for concurrent use.
type attrCache struct {
	headers []kgo.RecordHeader
	attrs   map[string]any
}

func (c *attrCache) decode(hs []kgo.RecordHeader) map[string]any {
	if len(hs) == 0 {
		return nil
	}
	if c.attrs != nil && sameHeaders(hs, c.headers) {
		return c.attrs
	}
	c.headers, c.attrs = hs, decodeHeaders(hs)
	return c.attrs
}

func sameHeaders(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || string(a[i].Value) != string(b[i].Value) {
			return false
		}
	}
	return true
}
