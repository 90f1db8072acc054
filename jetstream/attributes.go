package jetstream

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pullkit/broker"
)

// Headers this package reserves. Attribute keys starting with
// reservedPrefix are refused, so they can never collide.
const (
	reservedPrefix = "Pullkit-"
	// keyHeader carries OutboundMessage.Key (JetStream has no message key).
	keyHeader = "Pullkit-Key"
	// typeHeader has one value "<key>=<type>" per attribute that is not a
	// plain header-safe string, so typed values come back typed.
	typeHeader = "Pullkit-Type"
	// dead-letter headers, set on a copy republished to a dead-letter subject.
	deadReasonHeader   = "Pullkit-Dead-Reason"
	deadSubjectHeader  = "Pullkit-Dead-Subject"
	deadSequenceHeader = "Pullkit-Dead-Sequence"
)

// Type tags of typeHeader. "s64" is a string that is not header-safe
// (leading whitespace, CR, LF, NUL), sent base64-encoded.
const (
	tagString64 = "s64"
	tagBytes    = "bytes"
	tagBool     = "bool"
	tagTime     = "time"
	tagDuration = "duration"
)

// validateAttrKey checks that key can be a NATS header name: printable
// ASCII without ':' or spaces, and not one of this package's own.
func validateAttrKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", broker.ErrInvalidAttribute)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f || c == ':' {
			return fmt.Errorf("%w: key %q: a NATS header name must be printable ASCII without ':' or spaces", broker.ErrInvalidAttribute, key)
		}
	}
	if strings.HasPrefix(key, reservedPrefix) {
		return fmt.Errorf("%w: key %q: the %s prefix is reserved by package jetstream", broker.ErrInvalidAttribute, key, reservedPrefix)
	}
	return nil
}

// headerSafe reports whether s survives as a header value unchanged:
// nats.go trims leading blanks and lines end at CR or LF.
func headerSafe(s string) bool {
	if s != "" && (s[0] == ' ' || s[0] == '\t') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// encodeAttr returns the header text of v and its type tag ("" for a
// plain string).
func encodeAttr(v any) (text, tag string, ok bool) {
	switch v := v.(type) {
	case string:
		if headerSafe(v) {
			return v, "", true
		}
		return base64.StdEncoding.EncodeToString([]byte(v)), tagString64, true
	case []byte:
		return base64.StdEncoding.EncodeToString(v), tagBytes, true
	case bool:
		return strconv.FormatBool(v), tagBool, true
	case int:
		return strconv.FormatInt(int64(v), 10), "int", true
	case int8:
		return strconv.FormatInt(int64(v), 10), "int8", true
	case int16:
		return strconv.FormatInt(int64(v), 10), "int16", true
	case int32:
		return strconv.FormatInt(int64(v), 10), "int32", true
	case int64:
		return strconv.FormatInt(v, 10), "int64", true
	case uint:
		return strconv.FormatUint(uint64(v), 10), "uint", true
	case uint8:
		return strconv.FormatUint(uint64(v), 10), "uint8", true
	case uint16:
		return strconv.FormatUint(uint64(v), 10), "uint16", true
	case uint32:
		return strconv.FormatUint(uint64(v), 10), "uint32", true
	case uint64:
		return strconv.FormatUint(v, 10), "uint64", true
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32), "float32", true
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), "float64", true
	case time.Time:
		return v.Format(time.RFC3339Nano), tagTime, true
	case time.Duration:
		return strconv.FormatInt(int64(v), 10), tagDuration, true
	}
	return "", "", false
}

// decodeAttr parses text as tag says. A value that does not parse (a
// header set by another client, say) comes back as the string it is.
func decodeAttr(text, tag string) any {
	var (
		v   any
		err error
	)
	switch tag {
	case tagString64:
		var b []byte
		b, err = base64.StdEncoding.DecodeString(text)
		v = string(b)
	case tagBytes:
		v, err = base64.StdEncoding.DecodeString(text)
	case tagBool:
		v, err = strconv.ParseBool(text)
	case "int", "int8", "int16", "int32", "int64":
		bits := map[string]int{"int": strconv.IntSize, "int8": 8, "int16": 16, "int32": 32, "int64": 64}[tag]
		var n int64
		n, err = strconv.ParseInt(text, 10, bits)
		switch tag {
		case "int":
			v = int(n)
		case "int8":
			v = int8(n)
		case "int16":
			v = int16(n)
		case "int32":
			v = int32(n)
		default:
			v = n
		}
	case "uint", "uint8", "uint16", "uint32", "uint64":
		bits := map[string]int{"uint": strconv.IntSize, "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64}[tag]
		var n uint64
		n, err = strconv.ParseUint(text, 10, bits)
		switch tag {
		case "uint":
			v = uint(n)
		case "uint8":
			v = uint8(n)
		case "uint16":
			v = uint16(n)
		case "uint32":
			v = uint32(n)
		default:
			v = n
		}
	case "float32":
		var f float64
		f, err = strconv.ParseFloat(text, 32)
		v = float32(f)
	case "float64":
		v, err = strconv.ParseFloat(text, 64)
	case tagTime:
		v, err = time.Parse(time.RFC3339Nano, text)
	case tagDuration:
		var n int64
		n, err = strconv.ParseInt(text, 10, 64)
		v = time.Duration(n)
	default:
		return text
	}
	if err != nil {
		return text
	}
	return v
}

// encodeHeaders builds the NATS headers of a message: its attributes, the
// key, and the type tags. It validates everything first and returns an
// error wrapping broker.ErrInvalidAttribute naming the first bad key. The
// second result is the encoded size of the header block, as nats.go writes
// it, for the max-payload check.
func encodeHeaders(key string, attrs map[string]any) (nats.Header, int, error) {
	if key == "" && len(attrs) == 0 {
		return nil, 0, nil
	}
	h := make(nats.Header, len(attrs)+2)
	size := len("NATS/1.0\r\n") + len("\r\n")
	add := func(k, v string) {
		h[k] = append(h[k], v)
		size += len(k) + len(": ") + len(v) + len("\r\n")
	}
	for k, v := range attrs {
		if err := validateAttrKey(k); err != nil {
			return nil, 0, err
		}
		if v == nil {
			return nil, 0, fmt.Errorf("%w: key %q: nil value", broker.ErrInvalidAttribute, k)
		}
		text, tag, ok := encodeAttr(v)
		if !ok {
			return nil, 0, fmt.Errorf("%w: key %q: unsupported type %T", broker.ErrInvalidAttribute, k, v)
		}
		add(k, text)
		if tag != "" {
			add(typeHeader, k+"="+tag)
		}
	}
	if key != "" {
		if headerSafe(key) {
			add(keyHeader, key)
		} else {
			add(keyHeader, base64.StdEncoding.EncodeToString([]byte(key)))
			add(typeHeader, keyHeader+"="+tagString64)
		}
	}
	return h, size, nil
}

// decodeHeaders is encodeHeaders' inverse: the key and the attributes
// (every header but the key and type headers, typed where a tag says so;
// a header with several values keeps the first). The Pullkit-Dead-*
// headers of a dead-lettered copy are attributes like any other.
func decodeHeaders(h nats.Header) (key string, attrs map[string]any) {
	if len(h) == 0 {
		return "", nil
	}
	var tags map[string]string
	if ts := h[typeHeader]; len(ts) > 0 {
		tags = make(map[string]string, len(ts))
		for _, t := range ts {
			if i := strings.LastIndexByte(t, '='); i > 0 {
				tags[t[:i]] = t[i+1:]
			}
		}
	}
	for k, vs := range h {
		if len(vs) == 0 {
			continue
		}
		if k == keyHeader {
			key = vs[0]
			if tags[keyHeader] == tagString64 {
				if s, ok := decodeAttr(key, tagString64).(string); ok {
					key = s
				}
			}
			continue
		}
		if k == typeHeader {
			continue
		}
		if attrs == nil {
			attrs = make(map[string]any, len(h))
		}
		if tag, ok := tags[k]; ok {
			attrs[k] = decodeAttr(vs[0], tag)
		} else {
			attrs[k] = vs[0]
		}
	}
	return key, attrs
}
