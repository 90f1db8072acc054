// Package pulsartest is an in-process Pulsar broker for tests. It speaks the
// Pulsar binary protocol over loopback TCP, well enough for the real
// github.com/apache/pulsar-client-go client (v0.19.0) to produce, consume,
// read and seek against it, so tests exercise the client's real code paths
// without a JVM, a container or a network.
//
// # Usage
//
// Start a server, point the client at its URL and close both when done:
//
//	srv, err := pulsartest.NewServer()
//	if err != nil { ... }
//	defer srv.Close()
//	client, err := pulsar.NewClient(pulsar.ClientOptions{URL: srv.URL()})
//
// The server listens on a random loopback port. Topics are created on first
// use, like a broker with topic auto-creation; [Server.CreateTopic] creates a
// partitioned topic, which clients discover through partitioned-topic
// metadata. Short names such as "orders" mean
// "persistent://public/default/orders", as in the client.
//
// Keep the client's timeouts short in tests (OperationTimeout,
// NackRedeliveryDelay, SendTimeout): their defaults are 30 s to a minute and
// turn a failure into a long hang.
//
// # What is supported
//
//   - Connection handshake (CONNECT/CONNECTED) and keep-alive: PING is answered
//     with PONG.
//   - Partitioned-topic metadata and topic lookup; every lookup answers "this
//     broker".
//   - Producers, batched (the client's default) and not: each SEND is stored as
//     one entry, its CRC-32C checksum verified, its metadata parsed for the
//     number of messages, key and publish time; receipts go out in order.
//     Resends after a reconnection (same producer name and sequence id) are
//     acknowledged again, not stored twice.
//   - Subscriptions: Exclusive (a second consumer is refused), Failover (one
//     active consumer, chosen by name and partition index), Shared (round
//     robin) and KeyShared (a key sticks to one consumer while the set of
//     consumers is unchanged). Initial position Latest or Earliest.
//   - Flow control with per-message permits; a batch uses one permit per
//     message.
//   - Individual acknowledgements, including batch-index acknowledgements
//     (ack_set), and cumulative ones.
//   - Redelivery with an incremented redelivery count: on negative
//     acknowledgement (REDELIVER_UNACKNOWLEDGED_MESSAGES), when a consumer
//     closes or its connection drops, and, with [WithAckTimeout], when a
//     delivered message stays unacknowledged too long. Partially acknowledged
//     batches are redelivered with their ack_set, so the client skips what was
//     already acknowledged.
//   - Durable subscriptions outlive their consumers; non-durable ones
//     (Readers) go away with their last consumer.
//   - Delayed delivery (DeliverAfter, DeliverAt) on Shared and KeyShared
//     subscriptions, checked every 10 ms; Exclusive and Failover deliver at
//     once, as in Pulsar.
//   - Chunked messages and compressed batches, stored and delivered verbatim
//     (the client reassembles and decompresses).
//   - Readers (non-durable subscriptions with a start message id), seek by
//     message id and by publish time, and GetLastMessageId (which names the
//     last message of the last batch, as Reader.HasNext needs).
//
// # What is not supported
//
// Authentication and TLS, schemas (GET_SCHEMA, GET_OR_CREATE_SCHEMA),
// transactions, regex subscriptions (GET_TOPICS_OF_NAMESPACE), consumer stats,
// topic termination, retention limits (everything is kept in memory until
// Close), compaction, replication, and producer access modes other than
// Shared. An unsupported command is answered with an ERROR and the
// connection is closed, as for any protocol error.
//
// Semantics that differ from an Apache Pulsar broker: a negative
// acknowledgement redelivers just the messages named, on every subscription
// type (the Java broker rewinds every unacknowledged message on Exclusive and
// Failover); KeyShared hashes each entry's ordering key or partition key over
// the attached consumers rather than assigning hash ranges, and routes a
// batch by its first message's key, so use the client's KeyBasedBatchBuilder
// (or disable batching) with KeyShared, as with a real broker. Redelivery
// counts are kept on every subscription type (the Java broker counts only on
// Shared and KeyShared). When the active Failover consumer changes, what the
// previous one held unacknowledged is redelivered to the new one.
//
// # Faults
//
// [Server.DropConnections] closes every client connection, as a broker
// restart would; clients reconnect by themselves and unacknowledged messages
// are redelivered. [Server.RejectSends] rejects the next sends; the client
// reports them as failed sends (see its doc for exactly how). Malformed
// frames, frames beyond the 5 MiB message size limit and payloads with a bad
// checksum are answered with an error and the connection is closed; other
// connections are unaffected.
//
// # Inspecting state
//
// [Server.Backlog] counts a subscription's unacknowledged messages (it is
// the way to wait until the client's grouped acknowledgements reached the
// broker); [Server.MessageCount] counts stored messages;
// [Server.Subscriptions] lists a topic's subscriptions.
//
// # Lifecycle
//
// NewServer starts one goroutine accepting connections, one timer goroutine
// and two per client connection. [Server.Close]
// stops accepting, closes every connection and waits for all of them; it is
// idempotent. The protocol encoding lives in the internal wire package,
// generated from a subset of the protocol's protobuf definitions.
package pulsartest
