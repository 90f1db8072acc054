package servicebus

import (
	"fmt"
	"time"

	"github.com/pullkit/broker"
)

// toProperties converts attributes to application properties, in AMQP's
// own types where one exists (see the package doc's table). It expects
// attributes that broker.ValidateAttributes accepted and returns an error
// wrapping broker.ErrInvalidAttribute for anything else.
//
// When every value already has an AMQP type, attrs itself is returned:
// azservicebus encodes a message during the call that sends it or adds it
// to a batch, so the caller's map is only read while Publish or
// BatchPublish runs.
func toProperties(attrs map[string]any) (map[string]any, error) {
	if len(attrs) == 0 {
		return nil, nil
	}
	convert := false
	for k, v := range attrs {
		switch v.(type) {
		case string, bool, []byte, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
		case int, uint, time.Duration, time.Time:
			convert = true
		case nil:
			return nil, fmt.Errorf("%w: key %q: nil value", broker.ErrInvalidAttribute, k)
		default:
			return nil, fmt.Errorf("%w: key %q: unsupported type %T", broker.ErrInvalidAttribute, k, v)
		}
	}
	if !convert {
		return attrs, nil
	}
	props := make(map[string]any, len(attrs))
	for k, v := range attrs {
		switch v := v.(type) {
		case int:
			props[k] = int64(v)
		case uint:
			props[k] = uint64(v)
		case time.Duration:
			props[k] = int64(v)
		case time.Time:
			props[k] = v.UTC()
		default:
			props[k] = v
		}
	}
	return props, nil
}

// fromProperties hands the received application properties over as
// attributes; go-amqp already decoded them to Go values.
func fromProperties(props map[string]any) map[string]any {
	if len(props) == 0 {
		return nil
	}
	return props
}
