// Package jetstream is the NATS JetStream backend of pullkit/broker, built
// on nats.go's jetstream API (github.com/nats-io/nats.go/jetstream, not
// the legacy JetStreamContext). It offers both semantics over durable pull
// consumers, and a publisher:
//
//   - queue: Client.Subscribe returns a QueueConsumer, a
//     broker.MessageIterator and broker.BatchedMessageIterator over a
//     durable pull consumer with explicit acks (AckExplicit);
//   - log: Client.JoinLog returns a LogConsumer, a broker.RecordIterator
//     and broker.BatchedIterator over a durable pull consumer with
//     cumulative acks (AckAll);
//   - publishing: Client.Publisher returns a broker.Publisher whose Topics
//     publish to subjects and wait for the stream's PubAck.
//
// Other shapes (streams, receivers with worker pools, automatic lease
// extension) come from package adapters.
//
// # Connecting
//
// Connect opens one NATS connection (Config: URLs, credentials file, nkey
// seed file, token or user and password, TLS, reconnect policy, and
// NATSOptions / JetStreamOptions passed through to nats.go); NewClient
// wraps a connection you made. Publishers and consumers share their
// Client's connection. Refused credentials fail with an error wrapping
// broker.ErrUnauthenticated, an unreachable server with
// broker.ErrUnavailable; neither contains the secret or the URLs.
//
// By default the client reconnects forever (Config.MaxReconnects), so
// consumers ride out a server restart: Next calls wait (bounded by their
// context) while the server is away, nats.go re-issues the pull requests
// after the reconnect, acks sent during the outage are buffered and sent
// on reconnect, and what was delivered but not acked is redelivered by the
// server after its AckWait. A consumer deleted on the server ends Next
// calls with an error wrapping broker.ErrNotFound.
//
// # Topics, streams and consumers
//
// A topic is a NATS subject. Publishing needs a literal subject (no * or >
// wildcards, spaces or empty tokens, and nothing under the server's $JS and
// $SYS namespaces, where a publish is an API request such as deleting a
// stream: broker.ErrInvalidTopic) captured by a stream; without one, publishing fails with broker.ErrNotFound. A
// consumer's Subject is its filter subject (wildcards allowed) and finds
// its stream (the one capturing the subject) unless Stream names it.
// CreateStream creates a missing stream with JetStream's defaults; Bind
// uses an existing consumer as configured, otherwise the consumer is
// created or updated from the config (ConsumerConfig edits it last).
// Either way a queue's consumer must ack explicitly and a log's
// cumulatively (AckAll), or the call fails with broker.ErrInvalidOption.
// Close never deletes a stream or a durable consumer.
//
// # Queue semantics
//
// Each message is settled on its own, in any order, from any goroutine:
//
//	broker          JetStream                      confirmed by the server?
//	Ack             +ACK                           AckContext/Settle: yes (double ack)
//	Nack            -NAK                           Settle: the nack reached it (flush)
//	Nack with Delay -NAK {"delay": …}              as Nack
//	Reject(reason)  +TERM reason                   as Nack
//	Extend(d)       +WPI (in progress)             yes (flush)
//
// Ack, Nack and Reject do not wait for the server (except that a
// dead-lettering Reject or last Nack waits for the republish's PubAck, at
// most CloseTimeout); a failure to send them is returned by Close. Settle, AckContext and Extend wait. Settlement.Delay, or
// PoisonPolicy.NackDelay when it is zero, delays redelivery. An in-progress
// ack restarts the full AckWait (JetStream leases have a fixed length); for
// Extend(d) with d longer than AckWait the consumer sends one every
// AckWait/2 until d has passed or the message is settled.
//
// Message.ID is the stream sequence, DeliveryCount the delivery count from
// the message's metadata, PublishTime the stream's timestamp.
//
// Poison messages: PoisonPolicy.MaxDeliveries becomes the consumer's
// MaxDeliver. JetStream has no dead-letter queue; with Action
// PoisonDeadLetter and a DeadLetterTopic (a subject some stream captures)
// this package provides one: Reject, and the Nack of a message's last
// allowed delivery, republish the message (headers, data and
// Pullkit-Dead-Reason, Pullkit-Dead-Subject and Pullkit-Dead-Sequence
// headers) to that subject, wait for its PubAck, then terminate it. So
// that a message whose last delivery's AckWait expired is not dropped
// unseen, the consumer's MaxDeliver is then MaxDeliveries+1 and a delivery
// past MaxDeliveries is dead-lettered on arrival instead of handed out. If
// the republish fails the message is nacked instead. Without a
// dead-letter subject, Reject terminates the message and the server drops
// it after MaxDeliver deliveries (it publishes an advisory).
//
// Prefetching: the consumer keeps pull requests for up to Prefetch
// messages open (nats.go's Consume) and buffers what arrives; NextBatch
// returns what one pull delivered, up to MaxBatch, without waiting to
// fill the batch. A canceled Next call takes nothing from the buffer. A
// Next call that dead-letters a message on arrival waits for the
// republish at most CloseTimeout, and no longer than its context.
// Close drains the pull subscription, nacks every message handed out and
// unsettled and every buffered one, and flushes, so the next consumer of
// the durable gets them at once.
//
// # Log semantics
//
// A log consumer reads one stream (or the part its filter subject
// selects) as one partition: Record.Partition is 0, Record.Offset the
// stream sequence (increasing, with gaps when a filter skips other
// subjects), Record.Topic the message's subject. Streams have no
// partitions to spread over, so run one LogConsumer per group; the
// consumer does not implement broker.RevocationNotifier.
//
// Record.Ack is JetStream's AckAll: it commits the record and every earlier
// one, and is confirmed by the server with AckContext. The group's
// committed offset is the consumer's ack floor; it never moves backwards
// (an ack below it is a no-op). Records have no Nack; Extend returns
// broker.ErrUnsupported.
//
// JoinLog rewinds the group's consumer to its ack floor (JetStream's
// consumer reset API, which nats-server v2.15 has), so what a previous
// consumer of the group read without committing — whether it closed or
// crashed — is replayed at once and in order; a rewind that fails fails
// JoinLog (broker.ErrUnavailable when the server does not answer). While
// a consumer reads, the server redelivers records whose AckWait passed without a commit covering them;
// the consumer drops those redeliveries, keeping offset order (they come
// back after a rejoin if still uncommitted). Deliveries lost in flight (a
// connection that broke with records on their way, which the server would
// redeliver only after AckWait, behind later ones) show as a gap in the
// server's delivery numbering: the consumer then resets to the ack floor
// on a new pull subscription and reads on in order, so no record is handed
// out, or covered by a commit, before an earlier one. The reset consumer
// numbers its deliveries afresh, so a record handed out before the reset
// commits with its copy delivered after it; acked in the moment before
// that copy arrives, its commit may be ignored by the server, and the
// record is replayed to the group's next consumer, never lost. Close
// nacks, in order,
// everything delivered past the last commit and flushes the commits.
//
// # Attributes and headers
//
// Attributes are NATS headers. A string attribute is a header of the same
// name and value, and any header a message carries (from any client)
// arrives as a string attribute. Other values are sent as text with their
// type recorded in a Pullkit-Type header ("name=int64"), so they come back
// with the Go type and value they were published with: integers and floats
// in decimal, bool as true/false, time.Time as RFC 3339 with nanoseconds,
// time.Duration as nanoseconds, []byte and strings that a header cannot
// hold as they are (leading blanks, CR, LF, NUL) in base64. Header names
// are case-sensitive. An attribute key must be printable ASCII without
// ':' or spaces and must not start with "Pullkit-", or the publish fails
// with broker.ErrInvalidAttribute; nil and unsupported values fail the
// same way.
//
// OutboundMessage.Key travels in the Pullkit-Key header (JetStream has no
// key); it identifies the payload, not the message, so it is not used for
// de-duplication. For that, set the MsgIDAttribute ("Nats-Msg-Id")
// attribute: JetStream stores a message once per ID within the stream's
// duplicate window, which makes retrying a Publish or a BatchPublish whose
// outcome was unknown safe. Other Nats-* attributes (Nats-Expected-Stream,
// Nats-TTL…) reach the server as the headers they are.
//
// The server's max payload (1 MiB by default) bounds data and headers
// together; a larger message fails with broker.ErrMessageTooLarge before
// anything is sent.
//
// # Publishing
//
// Topic.Publish sends one message and waits for its PubAck.
// Topic.BatchPublish validates every message first (any invalid: none is
// sent), sends them with nats.go's asynchronous publishing, at most
// PublisherConfig.MaxInFlight awaiting acks at once, and waits for every
// PubAck; its *broker.BatchError marks each message sent, failed (refused,
// or never sent because ctx ended) or unknown (sent, no ack before ctx
// ended or before the connection broke). Publisher.Close waits for
// publishes in progress.
//
// # Goroutines
//
// Each consumer runs nats.go's Consume (its pull and status goroutines
// and the subscription's delivery goroutine); Close ends them. Extensions
// past AckWait use a timer per message, stopped at settlement or Close.
// Client.Close closes a connection Connect opened.
//
// # Native access
//
// Client.Conn and Client.JetStream return the nats.go connection and
// JetStream context; QueueConsumer.Consumer and LogConsumer.Consumer the
// nats.go consumer. QueueConfig.ConsumerConfig, QueueConfig.PullOptions,
// PublisherConfig.PublishOptions and Config.NATSOptions pass native
// options through.
//
// # Testing
//
// Package jstest runs a real nats-server with JetStream in the test
// process (random port, file store in a directory you give, optional
// TLS and authentication, Shutdown and Restart on the same port and
// store). This package's tests run the brokertest conformance suites
// against it, and again against a real server when NATS_URL is set.
package jetstream
