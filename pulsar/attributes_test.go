package pulsar

import (
	"reflect"
	"testing"
)

// attrShare must reuse a map only for exactly equal properties: a message
// must never show another's attribute values.
func TestAttrShareReusesOnlyEqualProperties(t *testing.T) {
	var a attrShare
	if got := a.convert(nil); got != nil {
		t.Fatalf("no properties: got %v, want nil", got)
	}
	first := a.convert(map[string]string{"a": "1"})
	same := a.convert(map[string]string{"a": "1"})
	if reflect.ValueOf(first).Pointer() != reflect.ValueOf(same).Pointer() {
		t.Fatal("equal properties: a second map was built")
	}
	for _, props := range []map[string]string{
		{"a": "2"},
		{"b": "1"},
		{"a": "1", "b": "2"},
		{"a": "1"},
		{},
	} {
		got := a.convert(props)
		want := fromProperties(props)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("properties %v: got attributes %v, want %v", props, got, want)
		}
	}
}
