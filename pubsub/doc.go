// Package pubsub is the Google Cloud Pub/Sub backend of pullkit/broker, on
// the v2 client library (cloud.google.com/go/pubsub/v2, imported here as
// gpubsub). Pub/Sub is a queue: each message of a subscription is settled
// on its own.
//
//	c, err := pubsub.NewClient(ctx, pubsub.Config{ProjectID: "my-project"})
//	pub, err := c.Publisher(pubsub.PublishConfig{})   // broker.Publisher
//	cons, err := c.Subscribe(ctx, "orders-billing", pubsub.ReceiveConfig{})
//	                                                  // MessageIterator + BatchedMessageIterator
//	r, err := c.Receiver(ctx, "orders-billing", pubsub.ReceiveConfig{})
//	                                                  // broker.Receiver
//
// # Shapes
//
// Receiver is the native shape: the library's streaming pull
// (Subscriber.Receive) with its flow control, calling a handler per
// message. Consumer is a MessageIterator and BatchedMessageIterator built
// on a Receiver with package adapters: the Receiver's handler buffers up to
// ReceiveConfig.Buffer messages, and when the buffer is full the library
// stops pulling (at most MaxOutstandingMessages handler calls wait).
// NextBatch hands out what arrives within MaxWait of a batch's first
// message, up to MaxBatch. Build the other shapes (streams, batched
// receivers) with package adapters.
// A Receiver handler that panics has its message nacked and the panic
// reported to ReceiveConfig.OnError (by default slog, without the
// payload); Receive goes on.
//
// # Semantics
//
//   - Ack: the library batches acks and sends them every 100 ms. Receive's
//     shutdown and Consumer.Close send the pending ones before returning.
//     An Ack or Nack made while the Receiver's handler call that got the
//     message is still running is handed to the library when that call
//     returns, or after 100 to 200 ms if the call goes on (so acking first
//     and then working long keeps the message from coming back): the
//     library's ack path is deep, and run from the bottom of the fresh
//     goroutine the library starts per message it cost every message a
//     stack copy. AckContext and Settle are never deferred.
//   - Nack: the message's lease ends at once (a modack to 0 s), and Pub/Sub
//     redelivers it at once, or after the subscription's retry policy
//     backoff. Settlement.Delay is ignored: Pub/Sub has no per-message
//     delay.
//   - Reject: there is no native reject. With ReceiveConfig.DeadLetterTopic
//     set, Reject publishes a copy of the message (data, attributes, key)
//     there, waits for the server's confirmation, then acks; if the copy
//     cannot be published the message is nacked and Settle returns the
//     error. Without it, Reject acks: the message is dropped. A
//     subscription's own dead-letter policy (SubscriptionConfig
//     DeadLetterTopic and MaxDeliveryAttempts) is applied by Pub/Sub itself
//     after too many deliveries: SubscriptionConfig.Poison maps
//     broker.PoisonPolicy onto it (MaxDeliveries and DeadLetterTopic to the
//     dead-letter policy, NackDelay to the subscription's retry backoff;
//     PoisonTerminate is ErrUnsupported, Pub/Sub can only dead-letter).
//   - Ack deadline and Extend: the library extends the lease of every
//     unsettled message by itself while Receive runs, up to
//     ReceiveConfig.MaxExtension (60 min by default) after receipt, in
//     steps of ReceiveConfig.AckDeadline (10 s by default). It has no call
//     to lease one message longer, so Message.Extend(d) returns nil when
//     now+d is within that horizon (the lease is kept anyway) and an error
//     wrapping broker.ErrUnsupported otherwise, or when extension is
//     disabled (MaxExtension < 0). With extension disabled a message is
//     redelivered once the AckDeadline given at receipt has passed.
//   - DeliveryCount: Pub/Sub counts deliveries only on subscriptions with a
//     dead-letter policy; there it is the message's DeliveryAttempt (1 on
//     the first delivery). Without a policy it is 0 (unknown).
//     Receiver.CountsDeliveries tells which.
//   - Ordering: OutboundMessage.Key is published as the message's ordering
//     key (every topic's library publisher has ordering enabled), and
//     Message.Key is the received ordering key. On a subscription with
//     ordering enabled (SubscriptionConfig.Ordering) messages of one key
//     are delivered in publishing order, and the library runs the handler
//     for one key at a time. Messages without a key are not ordered. The
//     library publishes the requests of one key one at a time, which
//     bounds keyed throughput; PublishConfig.KeyAttribute instead carries
//     the Key in an attribute with ordering off (ReceiveConfig.KeyAttribute
//     reads it back into Message.Key).
//
// # Confirmed settlements
//
// On a subscription with exactly-once delivery (SubscriptionConfig
// ExactlyOnce; Receiver.ExactlyOnce tells), AckContext and Settle wait for the library's AckResult and
// return Pub/Sub's verdict: nil, a failure (for example an expired ack ID)
// or ctx's error (outcome unknown). On other subscriptions acks and nacks
// are best-effort, as Pub/Sub's at-least-once delivery makes them:
// AckContext returns once the ack is queued, the library reports no
// outcome, and an ack that was lost means a redelivery. Reject is
// confirmed up to the dead-letter publish in both cases. Settling a message
// after its Receive ended (or its Consumer closed) returns an error
// wrapping broker.ErrClosed: it was nacked then.
//
// # Shutdown
//
// When Receive's ctx ends (or Consumer.Close is called): 1. messages the
// library pulls from then on are nacked without being handed out; 2.
// Receive waits for the handler calls in progress; 3. it nacks every
// message handed out and not settled yet, and a Consumer nacks what it
// buffered; 4. the library sends its pending acks and nacks, and Receive
// returns. Messages Pub/Sub had already sent on a stream but the library
// had not read yet when it stopped reading are redelivered after the
// stream's ack deadline (ReceiveConfig.AckDeadline, 10 s by default), not
// at once. The client library's stream keep-alive goroutine outlives
// Receive by up to 10 s and then exits by itself.
//
// # Attributes
//
// Pub/Sub attributes are strings. Outbound values convert as follows; any
// other type (and nil) is refused with broker.ErrInvalidAttribute:
//
//	string                       as is
//	[]byte                       standard base64 (encoding/base64.StdEncoding)
//	bool                         "true" / "false"
//	int, int8 … int64            decimal (strconv.FormatInt)
//	uint, uint8 … uint64         decimal (strconv.FormatUint)
//	float32, float64             strconv.FormatFloat(v, 'g', -1, bits): shortest exact form
//	time.Time                    RFC 3339 with nanoseconds, in UTC
//	time.Duration                Duration.String ("1.5s")
//
// Received attributes are all strings (map[string]any holding string
// values); nothing records the original type. Pub/Sub's limits are checked
// before anything is sent: at most MaxAttributes (100) attributes, keys of
// at most 256 bytes and not starting with "goog", values of at most 1024
// bytes after conversion (all broker.ErrInvalidAttribute); a Key (ordering
// key) of at most 1024 bytes (broker.ErrInvalidAttribute); keys, string
// values and the Key valid UTF-8, as protobuf strings must be
// (broker.ErrInvalidAttribute; binary goes as []byte); data of at most
// MaxMessageSize (10 MB) and the whole encoded message within what a
// 10 MB publish request leaves once the topic's name is in it (some 50
// bytes less; broker.ErrMessageTooLarge). A BatchPublish with one invalid message
// sends none. Pub/Sub refuses a message with neither data nor attributes,
// so such a message (an empty payload with at most an ordering key) is
// published with the attribute EmptyAttribute, which this package's
// Receivers and Consumers leave out (and which outbound attributes may not
// use).
//
// # Publishing
//
// A Publisher keeps one library publisher (gpubsub.Publisher) per topic
// name, made on first use and reused: those hold batching goroutines.
// Publish hands the message to the library's batcher and waits for the
// server's confirmation (its message ID). BatchPublish hands over every
// message first, so the library packs them into as few requests as
// PublishConfig allows (messages of one ordering key go in order, one
// request at a time), then waits for each outcome and reports in a
// *broker.BatchError which failed (refused by the server) and which are
// unknown (ctx ended, or a transport error after which the server may have
// stored them). A failure pauses its ordering key in the library: the
// key's later messages that were already handed over fail too (not sent,
// so none is published after the gap), and so do the key's messages
// published until each of those has its outcome; then the backend resumes
// the key, so the caller decides what to retry (in order). A message whose
// caller stopped waiting (ctx ended) still counts: its outcome is
// collected on the key's next publish.
// Publisher.Close flushes everything accepted and stops the library's
// publishers; it leaves the Client open.
//
// # Errors
//
// Errors of the library keep their gRPC status (status.Code works on
// them) and wrap a sentinel of package broker where one fits: NotFound →
// broker.ErrNotFound (a missing topic on publish, a missing subscription
// in Client.Receiver and Client.Subscribe, which check it up front),
// Unauthenticated and PermissionDenied → broker.ErrUnauthenticated,
// Unavailable → broker.ErrUnavailable, InvalidArgument →
// broker.ErrInvalidOption, the library's oversized-message error →
// broker.ErrMessageTooLarge. Empty topic and subscription names are
// broker.ErrInvalidTopic. Credentials never appear in errors.
//
// # Options and defaults
//
// Config: ProjectID (required), ClientOptions passed to the library as is
// (credentials, endpoint, gRPC options), ClientConfig. When
// PUBSUB_EMULATOR_HOST is set and no endpoint option is given, the library
// connects to that emulator without TLS or authentication.
//
// ReceiveConfig (zero value: the library's defaults):
// MaxOutstandingMessages (1000; for a Consumer 256, its buffer plus a
// batch) and MaxOutstandingBytes (1e9) bound
// unsettled messages, NumGoroutines (1) streaming pulls, MaxExtension
// (60 min), AckDeadline (DefaultAckDeadline, 10 s), DeadLetterTopic for
// Reject, MaxBatch (100), MaxWait (10 ms) and Buffer (128) for Consumer;
// Settings replaces the library's ReceiveSettings wholesale.
//
// PublishConfig (zero value: gpubsub.DefaultPublishSettings):
// CountThreshold (100), ByteThreshold (1e6), DelayThreshold (10 ms),
// Timeout (60 s); Settings replaces them wholesale. KeyAttribute (empty:
// keys are ordering keys).
//
// # Native access
//
// Client.Native, Topic.Native and Receiver.Native return the library's
// client, publisher and subscriber. EnsureTopic and EnsureSubscription
// are small admin helpers for tests, examples and tools.
//
// # Testing
//
// The package's tests run the brokertest queue suite against pstest, the
// library's in-process fake, and again against PUBSUB_EMULATOR_HOST when
// it is set. pstest delivers about one message per streaming pull every
// 10 ms, so its receive throughput measures pstest; the receive benchmarks
// use a minimal fake StreamingPull server instead.
package pubsub
