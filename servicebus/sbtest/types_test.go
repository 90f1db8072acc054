package sbtest

import (
	"bytes"
	"encoding/hex"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// Every expected byte string below was written by hand from the encoding
// tables of OASIS AMQP 1.0 Part 1 "Types" (section named per case), not
// produced by the code under test.
func TestPrimitiveEncodingsMatchTheSpecification(t *testing.T) {
	u := uuidValue{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	cases := []struct {
		name string
		v    any
		hex  string
	}{
		{"§1.6.1 null", nil, "40"},
		{"§1.6.2 boolean true (0x41)", true, "41"},
		{"§1.6.2 boolean false (0x42)", false, "42"},
		{"§1.6.3 ubyte", uint8(7), "50 07"},
		{"§1.6.4 ushort", uint16(0x0102), "60 01 02"},
		{"§1.6.5 uint0", uint32(0), "43"},
		{"§1.6.5 smalluint", uint32(255), "52 ff"},
		{"§1.6.5 uint", uint32(0x01020304), "70 01 02 03 04"},
		{"§1.6.6 ulong0", uint64(0), "44"},
		{"§1.6.6 smallulong", uint64(0x13), "53 13"},
		{"§1.6.6 ulong", uint64(0x0102030405060708), "80 01 02 03 04 05 06 07 08"},
		{"§1.6.7 byte", int8(-1), "51 ff"},
		{"§1.6.8 short", int16(-2), "61 ff fe"},
		{"§1.6.9 smallint", int32(-1), "54 ff"},
		{"§1.6.9 int", int32(1000), "71 00 00 03 e8"},
		{"§1.6.10 smalllong", int64(-2), "55 fe"},
		{"§1.6.10 long", int64(1 << 40), "81 00 00 01 00 00 00 00 00"},
		{"§1.6.11 float (IEEE 754 1.0)", float32(1), "72 3f 80 00 00"},
		{"§1.6.12 double (IEEE 754 -2.0)", float64(-2), "82 c0 00 00 00 00 00 00 00"},
		{"§1.6.16 char (UTF-32BE)", charValue('A'), "73 00 00 00 41"},
		{"§1.6.17 timestamp (ms since epoch)", time.UnixMilli(1000).UTC(), "83 00 00 00 00 00 00 03 e8"},
		{"§1.6.18 uuid", u, "98 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f"},
		{"§1.6.19 vbin8", []byte{1, 2, 3}, "a0 03 01 02 03"},
		{"§1.6.20 str8-utf8", "hi", "a1 02 68 69"},
		{"§1.6.21 sym8", symbol("ab"), "a3 02 61 62"},
		{"§1.6.22 list0", list{}, "45"},
		// list8: size counts the count byte and the elements (1+2+3).
		{"§1.6.22 list8", list{uint32(1), "a"}, "c0 06 02 52 01 a1 01 61"},
		// map8: count is the number of keys plus values.
		{"§1.6.23 map8", amqpMap{{symbol("k"), int64(5)}}, "c1 06 02 a3 01 6b 55 05"},
		// array8 of sym32: one constructor, then each element's data.
		{"§1.6.24 array8 of symbols", []symbol{"a", "bc"}, "e0 0d 02 b3 00 00 00 01 61 00 00 00 02 62 63"},
		// §1.2: a described type is 0x00, the descriptor, then the value.
		{"§1.2 described (accepted outcome, §3.4.2)", described{descriptor: uint64(0x24), value: list{}}, "00 53 24 45"},
	}
	for _, c := range cases {
		want := unhex(t, c.hex)
		if got := appendValue(nil, c.v); !bytes.Equal(got, want) {
			t.Errorf("%s: encoded % x, want % x", c.name, got, want)
		}
		got, n, err := decodeValue(want)
		if err != nil || n != len(want) {
			t.Errorf("%s: decode: %v (consumed %d of %d)", c.name, err, n, len(want))
			continue
		}
		if !reflect.DeepEqual(got, normalise(c.v)) {
			t.Errorf("%s: decoded %#v, want %#v", c.name, got, c.v)
		}
	}
}

// normalise maps encoder-only Go types to what the decoder returns.
func normalise(v any) any {
	if s, ok := v.([]symbol); ok {
		a := array{elemCode: codeSym32}
		for _, e := range s {
			a.elems = append(a.elems, e)
		}
		return a
	}
	return v
}

// The 32-bit and alternative encodings the server never writes must still
// be read, since a client may use them.
func TestWideEncodingsDecode(t *testing.T) {
	cases := []struct {
		name string
		hex  string
		want any
	}{
		{"§1.6.2 boolean byte", "56 01", true},
		{"§1.6.19 vbin32", "b0 00 00 00 02 0a 0b", []byte{10, 11}},
		{"§1.6.20 str32", "b1 00 00 00 01 7a", "z"},
		{"§1.6.21 sym32", "b3 00 00 00 01 7a", symbol("z")},
		{"§1.6.22 list32", "d0 00 00 00 05 00 00 00 01 41", list{true}},
		{"§1.6.23 map32", "d1 00 00 00 08 00 00 00 02 a1 01 6b 40", amqpMap{{"k", nil}}},
		{"§1.6.24 array32 of uint", "f0 00 00 00 0d 00 00 00 02 70 00 00 00 01 00 00 00 02",
			array{elemCode: codeUint, elems: []any{uint32(1), uint32(2)}}},
		{"§1.6.13 decimal32", "74 01 02 03 04", decimalValue{1, 2, 3, 4}},
	}
	for _, c := range cases {
		got, n, err := decodeValue(unhex(t, c.hex))
		if err != nil || n != len(unhex(t, c.hex)) || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v (n=%d, err=%v), want %#v", c.name, got, n, err, c.want)
		}
	}
}

func TestPerformativeEncodingsMatchTheSpecification(t *testing.T) {
	zero := uint16(0)
	// begin (Part 2 §2.7.2), descriptor 0x11 as smallulong, list8 of five
	// fields: remote-channel ushort 0, next-outgoing-id uint0,
	// incoming-window, outgoing-window, handle-max as 4-byte uints.
	begin := &performBegin{RemoteChannel: &zero, IncomingWindow: 0x7fffffff, OutgoingWindow: 0x7fffffff, HandleMax: 0xffffffff}
	want := unhex(t, "00 53 11 c0 14 05 60 00 00 43 70 7f ff ff ff 70 7f ff ff ff 70 ff ff ff ff")
	if got := begin.encode(nil); !bytes.Equal(got, want) {
		t.Errorf("begin: % x, want % x", got, want)
	}
	// §2.3.1 frame: SIZE 8+25=33, DOFF 2, TYPE 0 (AMQP), channel 0.
	frameWant := append(unhex(t, "00 00 00 21 02 00 00 00"), want...)
	if got := appendFrame(nil, frameTypeAMQP, 0, begin.encode(nil)); !bytes.Equal(got, frameWant) {
		t.Errorf("frame: % x, want % x", got, frameWant)
	}
	// §2.4.5: an empty frame is a heartbeat.
	if !bytes.Equal(heartbeat, unhex(t, "00 00 00 08 02 00 00 00")) {
		t.Errorf("heartbeat: % x", heartbeat)
	}
	// sasl-outcome (Part 5 §5.3.3.6), code ok = ubyte 0.
	if got := encodeComposite(nil, descSASLOutcome, uint8(saslOK)); !bytes.Equal(got, unhex(t, "00 53 44 c0 03 01 50 00")) {
		t.Errorf("sasl-outcome: % x", got)
	}
	// disposition (§2.7.6) as the server sends it: role sender (false),
	// first 3, settled true, state rejected (§3.4.3) without an error.
	d := &performDisposition{Role: roleSender, First: 3, Settled: true, State: &deliveryState{code: descRejected}}
	if got := d.encode(nil); !bytes.Equal(got, unhex(t, "00 53 15 c0 0a 05 42 52 03 40 41 00 53 25 45")) {
		t.Errorf("disposition: % x", got)
	}
	// detach (§2.7.7) with an error (§2.8.14): handle 1, closed true,
	// error{condition amqp:not-found}: the error list is 1 (count) + 2
	// (sym8 header) + 14 = 17 bytes, the detach list 1 + 2 + 1 + 3 + 3 +
	// 16 = 26.
	det := &performDetach{Handle: 1, Closed: true, Error: &amqpError{Condition: "amqp:not-found"}}
	wantDet := unhex(t, "00 53 16 c0 1a 03 52 01 41 00 53 1d c0 11 01 a3 0e") // then the 14 symbol bytes
	wantDet = append(wantDet, "amqp:not-found"...)
	if got := det.encode(nil); !bytes.Equal(got, wantDet) {
		t.Errorf("detach: % x, want % x", got, wantDet)
	}
}

func TestDispositionFromClientDecodes(t *testing.T) {
	// §2.7.6: role receiver (true), first 3, last null, settled true,
	// state accepted (§3.4.2).
	p, payload, err := decodePerformative(unhex(t, "00 53 15 c0 0a 05 41 52 03 40 41 00 53 24 45"))
	if err != nil || len(payload) != 0 {
		t.Fatalf("decode: %v", err)
	}
	d := p.(*performDisposition)
	if d.Role != roleReceiver || d.First != 3 || d.Last != nil || !d.Settled || d.State.code != descAccepted {
		t.Fatalf("got %+v", d)
	}
}

func TestMalformedValuesAreErrorsNotPanics(t *testing.T) {
	deep := strings.Repeat("c0 01 01 ", 100) + "40"
	cases := map[string]string{
		"empty":                   "",
		"unknown constructor":     "ff",
		"truncated uint":          "70 00 01",
		"truncated str8":          "a1 05 61",
		"invalid utf-8 string":    "a1 01 ff",
		"list count beyond size":  "c0 02 09 40",
		"list size beyond input":  "c0 ff 01 40",
		"list32 huge size":        "d0 7f ff ff ff 00 00 00 01 40",
		"map odd count":           "c1 02 01 40",
		"array32 huge count":      "f0 00 00 00 05 7f ff ff ff 50",
		"array of zero-width":     "f0 00 00 00 05 7f ff ff ff 40",
		"described descriptor":    "00 00 53 01 40 40",
		"deep nesting":            deep,
		"boolean byte out of set": "56 02",
	}
	for name, h := range cases {
		if _, _, err := decodeValue(unhex(t, h)); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
}

// Random bytes, and random mutations of valid performatives, must never
// panic the decoder.
func TestDecoderSurvivesRandomInput(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	seeds := [][]byte{
		(&performBegin{IncomingWindow: 1, OutgoingWindow: 1}).encode(nil),
		(&performAttach{Name: "n", Handle: 1, Source: &terminus{Address: "q"}, Target: &terminus{Address: "t"}}).encode(nil),
		unhex(t, "00 53 15 c0 0a 05 41 52 03 40 41 00 53 24 45"),
	}
	for i := 0; i < 20000; i++ {
		var b []byte
		if i%2 == 0 {
			b = make([]byte, rng.Intn(64))
			rng.Read(b)
		} else {
			b = append([]byte(nil), seeds[rng.Intn(len(seeds))]...)
			for j := 0; j < 1+rng.Intn(4); j++ {
				b[rng.Intn(len(b))] = byte(rng.Intn(256))
			}
		}
		_, _, _ = decodePerformative(b)
	}
}

func FuzzDecodePerformative(f *testing.F) {
	f.Add([]byte{0x00, 0x53, 0x15, 0xc0, 0x0a, 0x05, 0x41, 0x52, 0x03, 0x40, 0x41, 0x00, 0x53, 0x24, 0x45})
	f.Add((&performOpen{ContainerID: "c", MaxFrameSize: 512}).encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = decodePerformative(b)
	})
}
