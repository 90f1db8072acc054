// Package sbtest is an in-process AMQP 1.0 server with Azure Service Bus
// semantics, for testing code that uses the real
// github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus client
// without a network, an emulator container or an Azure namespace.
//
// # Usage
//
// Start a server, create the entities a test needs, and build the client
// from the server's emulator connection string:
//
//	srv, err := sbtest.NewServer()
//	if err != nil { ... }
//	defer srv.Close()
//	_ = srv.CreateQueue("orders", &sbtest.QueueOptions{LockDuration: time.Second, MaxDeliveryCount: 3})
//	client, err := azservicebus.NewClientFromConnectionString(srv.ConnectionString(), nil)
//
// The connection string has the form
// "Endpoint=sb://127.0.0.1:PORT;SharedAccessKeyName=...;SharedAccessKey=...;UseDevelopmentEmulator=true",
// which makes the client speak plain TCP with SASL ANONYMOUS and then put a
// SAS token on $cbs. The server checks that token's signature against its
// key (a random one unless WithSharedAccessKey sets it), so a client built
// with ConnectionStringWithKey and a wrong key gets
// azservicebus.CodeUnauthorizedAccess. Links to an entity or its
// $management node are refused with amqp:unauthorized-access unless a
// token for it (or a namespace-wide one) was put on the connection first.
//
// Entities: CreateQueue, CreateTopic and CreateSubscription (names are
// case-insensitive); UpdateQueue changes a queue's or subscription's lock
// duration and max delivery count, as the administration API does. Sending to or receiving from an entity that was not
// created fails with amqp:not-found. Inspection: Messages lists what an
// entity holds (with its state: active, locked, deferred, scheduled) and
// DeadLetters what its dead-letter queue holds, with the dead-letter reason
// and description.
//
// # Supported
//
//   - Senders to queues and topics: SendMessage, NewMessageBatch and
//     SendMessageBatch (split into its messages), messages larger than a
//     frame, ScheduleMessages and CancelScheduledMessages.
//   - Receivers on queues, subscriptions and their dead-letter sub-queues,
//     in peek-lock and receive-and-delete mode. Messages carry sequence
//     number, enqueued time, locked-until, delivery count and a lock token,
//     with the AMQP types the client expects.
//   - Settlement on the receive link: CompleteMessage, AbandonMessage
//     (with properties to modify), DeferMessage, DeadLetterMessage (reason
//     and description become the DeadLetterReason and
//     DeadLetterErrorDescription application properties), and release of
//     messages the client fetched but did not hand out.
//   - $management: renew-lock (RenewMessageLock), peek-message
//     (PeekMessages), receive-by-sequence-number (ReceiveDeferredMessages),
//     update-disposition (settling deferred messages, or after the link was
//     lost), schedule-message and cancel-scheduled-message.
//   - Locks expire after the entity's lock duration; the message is then
//     redelivered with its delivery count incremented, and settling with
//     the old lock fails with azservicebus.CodeLockLost. A message
//     delivered MaxDeliveryCount times and then abandoned or expired moves
//     to the dead-letter queue with reason "MaxDeliveryCountExceeded".
//   - A message's TimeToLive: once it has passed, the message is dropped,
//     or dead-lettered with reason "TTLExpiredException" if the entity was
//     created with DeadLetterOnMessageExpiration.
//
// # Not supported
//
// Sessions (session-enabled entities and session receivers), transactions,
// auto-forwarding, subscription rules and filters, duplicate detection,
// entity-level default time-to-live, the administration client (ATOM/HTTP), TLS
// and WebSockets. Requests for unsupported $management operations are
// answered with status 501. Entities live in memory and end with Close.
//
// # Semantics worth knowing
//
// Delivery count: a message's count goes up each time it is delivered;
// releasing it (the client does this for messages that arrived after
// ReceiveMessages returned) takes the increment back.
//
// Locks and links: a receiver link the client closes (Receiver.Close, or
// the end of its session) releases the messages it still holds unsettled,
// as above, without counting the delivery: they can only be settled on
// that link, and Service Bus frees the locks of a closed link. Locks of a
// connection that drops (DropConnections, a network failure) stay until
// they expire, and settling them on a new link fails: such messages are
// redelivered when their lock expires.
//
// A link with credit left over from a ReceiveMessages call that returned
// early receives every message that becomes available, and the client's
// releaser gives it back at once; the server then offers it to the next
// link with credit, possibly the same one. That exchange repeats until the
// client calls ReceiveMessages again or closes the receiver.
//
// The server checks locks, scheduled messages and time-to-live every 10 ms.
//
// # Faults
//
// DropConnections closes every client connection abruptly (the client
// reconnects on its own); RefuseTokens makes the next put-token requests
// fail with 401; RefuseSends lets some sends through and then refuses
// others with amqp:resource-limit-exceeded (an entity that is full, which
// the client does not retry), to test partial batch failures;
// IgnoreSettlements leaves the next settlements unanswered (a namespace
// that stopped responding: the client's settle call waits for its ctx),
// and IgnoreLockRenewals does the same to renew-lock requests;
// the WithClockSkew option makes the times the server reports disagree
// with the client's clock, and LockRenewals counts lock renewals, to test
// a client's lock renewal; Connections counts accepted connections so a test can observe a
// reconnect.
//
// # Lifecycle
//
// NewServer starts an accept loop, a janitor for locks and scheduled
// messages, and two goroutines per client connection (reader and writer).
// Close stops them all and waits for them; it is idempotent. The server
// answers malformed input with an AMQP connection error (close with
// amqp:decode-error, amqp:connection:framing-error or amqp:not-allowed)
// and never panics on it. All methods are safe for concurrent use.
package sbtest
