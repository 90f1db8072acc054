package jetstream

import (
	"strconv"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"
)

// replyMsg carries just an ack reply subject; its Metadata, which
// metadataOf falls back to for subjects it does not parse, fails.
type replyMsg struct {
	natsjs.Msg
	reply string
}

func (m replyMsg) Reply() string { return m.reply }

func (m replyMsg) Metadata() (*natsjs.MsgMetadata, error) { return nil, natsjs.ErrNotJSMessage }

func TestMetadataOfParsesBothAckSubjectFormats(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	nanos := strconv.FormatInt(ts.UnixNano(), 10)
	for _, reply := range []string{
		"$JS.ACK.ORDERS.billing.3.42.17." + nanos + ".5",
		"$JS.ACK._.ABCHASH.ORDERS.billing.3.42.17." + nanos + ".5.rnd",
		"$JS.ACK.hub.ABCHASH.ORDERS.billing.3.42.17." + nanos + ".5",
	} {
		md, err := metadataOf(replyMsg{reply: reply})
		if err != nil {
			t.Errorf("%s: %v", reply, err)
			continue
		}
		if md.delivered != 3 || md.streamSeq != 42 || md.consumerSeq != 17 || !md.timestamp.Equal(ts) {
			t.Errorf("%s: got %+v", reply, md)
		}
	}
	for _, reply := range []string{
		"", "_INBOX.x", "$JS.ACK.a.b.c", "$JS.ACK.S.C.x.42.17.1.5",
		"$JS.ACK.S.C.3.42.17.1.5.extra", "$JS.ACK.a.b.c.d.e.f.g.h.i.j",
	} {
		if md, err := metadataOf(replyMsg{reply: reply}); err == nil {
			t.Errorf("%q parsed as %+v", reply, md)
		}
	}
}
