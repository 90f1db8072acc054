package pulsar

import (
	"fmt"

	"github.com/pullkit/broker"
)

// toProperties converts attributes to Pulsar message properties, which are
// strings only. The conversion is documented in the package doc; it never
// fails for a value broker.ValidateAttributes accepted. size is the bytes of
// keys and values, for the size check.
func toProperties(attrs map[string]any) (props map[string]string, size int, err error) {
	if len(attrs) == 0 {
		return nil, 0, nil
	}
	props = make(map[string]string, len(attrs))
	for k, v := range attrs {
		s, err := broker.AttributeString(v)
		if err != nil {
			return nil, 0, fmt.Errorf("key %q: %w", k, err)
		}
		props[k] = s
		size += len(k) + len(s)
	}
	return props, size, nil
}

// fromProperties returns the properties as attributes (all strings), or nil.
func fromProperties(props map[string]string) map[string]any {
	if len(props) == 0 {
		return nil
	}
	attrs := make(map[string]any, len(props))
	for k, v := range props {
		attrs[k] = v
	}
	return attrs
}

// attrShare converts properties for the messages of one NextBatch call,
// reusing the last attributes built when the next message's properties are
// equal: messages of one producer mostly carry the same properties, and
// building a map[string]any (the map, a box per value) was the largest cost
// of the backend's own consume path. Such messages share one map, which is
// why delivered attributes are read-only (package doc). The zero value is
// ready; it is used by one goroutine.
type attrShare struct {
	last map[string]any
}

func (a *attrShare) convert(props map[string]string) map[string]any {
	if len(props) == 0 {
		return nil
	}
	if a.last != nil && sameProperties(a.last, props) {
		return a.last
	}
	a.last = fromProperties(props)
	return a.last
}

// sameProperties reports whether attrs holds exactly props.
func sameProperties(attrs map[string]any, props map[string]string) bool {
	if len(attrs) != len(props) {
		return false
	}
	for k, v := range props {
		if s, ok := attrs[k].(string); !ok || s != v {
			return false
		}
	}
	return true
}
