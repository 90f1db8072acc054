package jetstream

import (
	"strings"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// meta is what this package reads from a message's JetStream metadata.
type meta struct {
	streamSeq   uint64
	consumerSeq uint64 // the delivery's number; the server counts every delivery
	delivered   uint64
	timestamp   time.Time
}

// metadataOf parses the ack reply subject without allocating, which
// nats.go's Metadata does per message:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>                         (v1, 9 tokens)
//	$JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<rnd>] (v2, 11 or more)
//
// Anything else falls back to nats.go's parser, which reports the error.
func metadataOf(m natsjs.Msg) (meta, error) {
	reply := m.Reply()
	if rest, ok := strings.CutPrefix(reply, "$JS.ACK."); ok {
		var tok [12]string
		n := 2
		for n < len(tok) {
			var t string
			t, rest, ok = strings.Cut(rest, ".")
			tok[n] = t
			n++
			if !ok {
				break
			}
		}
		first := -1
		switch {
		case n == 9 && !ok:
			first = 4 // v1: delivered is token 4
		case n >= 11 && (n < 12 || !ok):
			first = 6 // v2
		}
		if first > 0 {
			delivered, ok1 := parseUint(tok[first])
			sseq, ok2 := parseUint(tok[first+1])
			cseq, ok4 := parseUint(tok[first+2])
			ts, ok3 := parseUint(tok[first+3])
			if ok1 && ok2 && ok3 && ok4 {
				return meta{streamSeq: sseq, consumerSeq: cseq, delivered: delivered, timestamp: time.Unix(0, int64(ts))}, nil
			}
		}
	}
	md, err := m.Metadata()
	if err != nil {
		return meta{}, err
	}
	return meta{streamSeq: md.Sequence.Stream, consumerSeq: md.Sequence.Consumer, delivered: md.NumDelivered, timestamp: md.Timestamp}, nil
}

func parseUint(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
