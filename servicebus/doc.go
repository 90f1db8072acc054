// Package servicebus is the Azure Service Bus backend of package broker,
// on the official client github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus.
// It consumes queues and topic subscriptions with queue semantics (Queue:
// a native broker.BatchedMessageIterator, and every other shape through
// package adapters) and publishes to queues and topics (Publisher).
//
//	client, _ := servicebus.NewClient(servicebus.Config{ConnectionString: cs})
//	defer client.Close(ctx)
//	pub, _ := client.Publisher()
//	orders, _ := pub.Topic("orders")
//	_ = orders.Publish(ctx, broker.OutboundMessage{Key: "42", Data: []byte("paid")})
//	q, _ := client.NewQueue(ctx, servicebus.QueueConfig{Queue: "orders"})
//	defer q.Close()
//	msg, _ := q.NextMessage(ctx)
//	_ = msg.AckContext(ctx)
//
// # Connecting
//
// Config takes a connection string (with a shared access key, or an
// emulator one with UseDevelopmentEmulator=true such as
// sbtest.Server.ConnectionString returns), or a namespace and an Azure
// identity credential (azcore.TokenCredential, from azidentity).
// Config.ClientOptions goes to azservicebus unchanged: TLS configuration
// (TLS is always on except for the emulator), WebSockets, retries. A
// Client is one AMQP connection shared by its publishers and queues;
// Client.Close closes them all. Refused credentials surface as errors
// wrapping broker.ErrUnauthenticated (from NewQueue, or the first Publish),
// a missing entity as broker.ErrNotFound, a connection that cannot be
// (re)established as broker.ErrUnavailable; the shared access key never
// appears in an error. Native returns the azservicebus client or
// receiver underneath for what this package does not cover (sessions,
// scheduled messages, deferral, peeking, administration).
//
// # Receiving: semantics
//
// NewQueue consumes a queue (QueueConfig.Queue) or a topic subscription
// (Topic and Subscription), or the dead-letter sub-queue of either
// (DeadLetter). Creating entities is an administration task (the
// azservicebus/admin package, the portal, Bicep): this package never
// creates or deletes one, and Close never deletes a subscription.
//
// In peek-lock mode (the default) each message is locked for the entity's
// lock duration when it is received, and settled on its own:
//   - Ack completes it (CompleteMessage): it is gone.
//   - Nack abandons it (AbandonMessage): Service Bus delivers it again at
//     once, with DeliveryCount one higher. Settlement.Delay is ignored:
//     Service Bus has no delayed abandon (so PoisonPolicy.NackDelay is
//     refused with broker.ErrUnsupported).
//   - Reject dead-letters it (DeadLetterMessage) with the reason given
//     (ReasonRejected if empty) as its DeadLetterReason; with
//     PoisonPolicy.Action PoisonTerminate, or on a dead-letter queue
//     (QueueConfig.DeadLetter, which has none of its own), it completes
//     it instead.
//   - Extend(d) renews the lock (RenewMessageLock). Service Bus renews for
//     the entity's lock duration, never another length, so when d is
//     longer the queue keeps renewing until d from now has passed (or the
//     message is settled, or the queue closed). It never shortens a lock.
//   - A lock that expires makes Service Bus deliver the message again;
//     settling it with the old lock then fails (lock lost).
//
// DeliveryCount is the message's delivery count (1 on the first delivery).
// Poison messages are handled twice over. Service Bus itself dead-letters
// a message abandoned or expired on its entity's MaxDeliveryCount-th
// delivery (reason "MaxDeliveryCountExceeded"; set it on the entity).
// PoisonPolicy.MaxDeliveries is checked on the client: a message nacked
// on its MaxDeliveries-th delivery, or received with a higher count, goes
// to the policy's Action (dead-letter with reason "MaxDeliveriesExceeded",
// or complete for PoisonTerminate) instead of back to the entity.
// PoisonPolicy.DeadLetterTopic is ignored: the dead-letter queue is built
// in; read it with QueueConfig.DeadLetter. A dead-letter queue has none of
// its own: there Reject completes the message, and MaxDeliveries is
// refused (broker.ErrInvalidOption), since dead-lettered messages keep the
// delivery count they reached on the entity.
//
// Lock renewal while a message is handled: the queue renews the lock of
// every message it handed out and that is not settled yet, about every
// half lock duration, for at most QueueConfig.AutoRenew (5 minutes by
// default; negative turns it off) from when it was handed out. This
// covers iterators and the receivers built on them (Queue.Receiver,
// Queue.BatchedReceiver), so adapters.WithAutoExtend is not needed. One
// goroutine per queue schedules it, with one RenewMessageLock round trip
// per message per renewal, up to 16 in flight at once, each bounded by the
// lock's duration (so one that gets no answer holds back no other). Renewal is timed by the lock expiry Service Bus
// reports, read on the local clock; if that clock runs so far ahead of the
// namespace's that a lock just renewed looks expired, it renews every
// second instead.
//
// Settlement is confirmed: Ack, Nack and Reject block until Service Bus
// answers (bounded by QueueConfig.SettleTimeout, 30 s by default) and
// drop the outcome; AckContext and Settle return it. A settlement fails
// when the lock was lost: it expired, or the connection the message came
// on dropped (a message can only be settled on the link it came on; the
// message is then delivered again when its lock expires). Trap: in that
// case azservicebus retries the settlement with its default backoff (4 s,
// then 8 s, then 16 s, whatever ClientOptions.RetryOptions says) before
// giving up, so an Ack can block up to SettleTimeout; lower SettleTimeout,
// or use Settle with a shorter ctx, where that matters.
//
// Receive-and-delete mode (QueueConfig.ReceiveMode ReceiveAndDelete) is
// at-most-once: Service Bus deletes each message as it sends it. Ack is a
// no-op that succeeds; Nack and Reject cannot give the message back and
// return an error wrapping broker.ErrUnsupported (from Settle); Extend
// returns broker.ErrUnsupported; messages prefetched and not handed out
// when the queue closes are lost. Trap: a NextBatch that returns fewer
// messages than Prefetch leaves the rest of its credit on the link, so
// until the next NextBatch Service Bus keeps sending (and deleting) the
// messages that arrive, up to that many; the next NextBatch hands them
// out, and Close loses them, even with the default Prefetch. (In
// peek-lock mode azservicebus releases such messages back at once.)
//
// # Receiving: batches, prefetch, Close
//
// NextBatch is one azservicebus ReceiveMessages call for Prefetch
// messages (MaxBatch by default, 100): it waits for the first message as
// long as its ctx allows, then at most MaxWait (20 ms) for more, and
// returns at most MaxBatch; with a larger Prefetch the rest is handed out
// by the next calls without a round trip (their locks run meanwhile and
// are not renewed until handed out). A call canceled by its ctx loses
// nothing: messages that arrive for it are returned by the next call, or
// released back to the entity by the client (without counting a
// delivery). NextMessage hands out NextBatch's batches one message at a
// time (adapters.BatchedMessageIteratorToMessageIterator). NextBatch and
// NextMessage calls must not be concurrent; settling is safe from any
// goroutine.
//
// Close stops the queue: a NextBatch in progress returns broker.ErrClosed,
// the renewer stops, every message received and not settled (handed out
// or not) is abandoned so that the next consumer gets it at once, and the
// receiver closes. Settling those messages afterwards fails with
// broker.ErrClosed (not ErrAlreadySettled: their holder did not settle
// them). Trap:
// Service Bus counts an abandon as a delivery, so each of them comes back
// with DeliveryCount one higher, even those no caller ever saw (the rest
// of a NextMessage batch, Prefetch), and one abandoned on its entity's
// MaxDeliveryCount-th delivery goes to the dead-letter queue instead (as
// it would when its lock expired). Consumers that are closed and reopened
// often should keep MaxBatch and Prefetch small.
//
// # Publishing
//
// Publisher.Topic names a queue or a topic; one azservicebus.Sender per
// entity is opened on first use and closed by Publisher.Close, which first
// lets the publishes in progress finish (up to 10 s). Publish is
// SendMessage and returns once Service Bus accepted the message.
// BatchPublish validates every message, packs them in order into as few
// MessageBatches as the entity's maximum message size allows (256 KiB on
// the Standard tier and the emulator, up to 100 MiB on Premium), then
// sends the batches one after the other; if any message is invalid or
// alone exceeds the limit (broker.ErrMessageTooLarge), none is sent. When
// a batch fails, the returned *broker.BatchError marks the messages of the
// batches before it sent, those of the failed batch failed (Service Bus
// refused it) or unknown (the connection or ctx ended while the outcome
// was on its way), and the rest failed (never attempted). The size limit
// applies to the encoded AMQP message (payload, properties and some 100
// bytes of headers).
//
// # Attributes and keys
//
// Attributes are the message's application properties. Values keep their
// AMQP type where AMQP has one:
//
//	attribute (Go)                 application property       comes back as
//	string, bool, []byte           string, boolean, binary    same
//	int8, int16, int32, int64      byte, short, int, long     same
//	uint8, uint16, uint32, uint64  ubyte, ushort, uint, ulong same
//	float32, float64               float, double              same
//	int, uint                      long, ulong                int64, uint64
//	time.Time                      timestamp (ms, UTC)        time.Time, to the millisecond, UTC
//	time.Duration                  long (nanoseconds)         int64
//
// Anything else, a nil value or an empty key is refused with
// broker.ErrInvalidAttribute before anything is sent. Received messages
// carry every application property go-amqp decodes, including those
// other clients set (the dead-letter reason of a dead-lettered message
// is the DeadLetterReason property).
//
// Message.Key is the message's PartitionKey, and the PartitionKey of a
// received message becomes its Key. On a partitioned entity it picks the
// partition (and so keeps one key's messages in order relative to each
// other within that partition); on others it is carried along. Service Bus
// limits it to 128 characters (MaxKeyLength): a longer Key is refused with
// broker.ErrInvalidAttribute before anything is sent (by BatchPublish, for
// the whole batch). Sessions are not supported (use Native);
// on a session-enabled entity the PartitionKey must equal the SessionId.
//
// Message.ID is the MessageId, or "seq:<sequence number>" when the sender
// set none. PublishTime is the enqueued time.
//
// # Testing
//
// Package sbtest is an in-process server that speaks AMQP 1.0 with
// Service Bus semantics to the real azservicebus client; this package's
// tests run the broker conformance suite on it (queues and subscriptions)
// and on the namespace in SERVICEBUS_CONNECTION_STRING when it is set.
package servicebus
