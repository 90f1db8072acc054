package pubsub

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	gpubsub "cloud.google.com/go/pubsub/v2"
	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/pullkit/broker"
)

// Client is a connection to Pub/Sub, shared by the Publishers, Receivers
// and Consumers made from it. It is safe for concurrent use.
type Client struct {
	c         *gpubsub.Client
	projectID string

	mu     sync.Mutex
	closed bool
}

// NewClient connects to Pub/Sub (or to the emulator named by
// PUBSUB_EMULATOR_HOST, see Config.ClientOptions). It fails with an error
// wrapping broker.ErrInvalidOption for a bad cfg.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c, err := gpubsub.NewClientWithConfig(ctx, cfg.ProjectID, cfg.ClientConfig, cfg.ClientOptions...)
	if err != nil {
		return nil, classify(err, "connecting")
	}
	return &Client{c: c, projectID: c.Project()}, nil
}

// Native returns the client library's client, for what this package does
// not wrap (schemas, snapshots, seeking, IAM). Closing it closes c.
func (c *Client) Native() *gpubsub.Client { return c.c }

// ProjectID returns the project the client works in.
func (c *Client) ProjectID() string { return c.projectID }

// Close closes the connection. Close the Publishers first (they flush)
// and end every Receive; calls made after Close fail. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return classify(c.c.Close(), "closing the client")
}

func (c *Client) usable() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("%w: pubsub client", broker.ErrClosed)
	}
	return nil
}

func (c *Client) topicPath(name string) string {
	if strings.HasPrefix(name, "projects/") {
		return name
	}
	return "projects/" + c.projectID + "/topics/" + name
}

func (c *Client) subscriptionPath(name string) string {
	if strings.HasPrefix(name, "projects/") {
		return name
	}
	return "projects/" + c.projectID + "/subscriptions/" + name
}

// EnsureTopic creates the topic if it does not exist yet. It is an admin
// helper for tests, examples and tools; Pub/Sub resources are usually
// managed elsewhere (Terraform, gcloud).
func (c *Client) EnsureTopic(ctx context.Context, name string) error {
	if err := broker.ValidateTopicName(name); err != nil {
		return err
	}
	if err := c.usable(); err != nil {
		return err
	}
	_, err := c.c.TopicAdminClient.CreateTopic(ctx, &pb.Topic{Name: c.topicPath(name)})
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return classify(err, fmt.Sprintf("creating topic %q", name))
}

// SubscriptionConfig describes a subscription for EnsureSubscription.
type SubscriptionConfig struct {
	// Name and Topic are required.
	Name, Topic string

	// AckDeadline is the subscription's default ack deadline (10 s to
	// 600 s on Pub/Sub). 0: Pub/Sub's default, 10 s.
	AckDeadline time.Duration

	// Ordering enables message ordering: messages with one ordering key
	// (OutboundMessage.Key) are delivered in publishing order.
	Ordering bool

	// ExactlyOnce enables exactly-once delivery: AckContext and Settle then
	// report the outcome Pub/Sub gives for each ack and nack.
	ExactlyOnce bool

	// DeadLetterTopic, if set, is a dead-letter policy: after
	// MaxDeliveryAttempts deliveries Pub/Sub forwards a message there. It
	// also makes Pub/Sub count deliveries, so Message.DeliveryCount is
	// known. MaxDeliveryAttempts 0 means 5 (Pub/Sub accepts 5 to 100).
	DeadLetterTopic     string
	MaxDeliveryAttempts int

	// Poison, as an alternative to the two fields above, is the module's
	// one poison policy mapped onto Pub/Sub: MaxDeliveries becomes
	// MaxDeliveryAttempts and DeadLetterTopic the dead-letter topic (both
	// required together: Pub/Sub can only dead-letter, so PoisonTerminate
	// is refused with broker.ErrUnsupported), and NackDelay becomes the
	// subscription's retry policy (minimum backoff, for every redelivery;
	// Pub/Sub caps it at 600 s).
	Poison broker.PoisonPolicy
}

// fromPoison fills sc's dead-letter fields and retry policy from sc.Poison.
func (sc SubscriptionConfig) fromPoison() (SubscriptionConfig, *pb.RetryPolicy, error) {
	p := sc.Poison
	if p == (broker.PoisonPolicy{}) {
		return sc, nil, nil
	}
	if err := p.Validate(); err != nil {
		return sc, nil, err
	}
	if sc.DeadLetterTopic != "" || sc.MaxDeliveryAttempts != 0 {
		return sc, nil, fmt.Errorf("%w: pubsub: SubscriptionConfig has both Poison and DeadLetterTopic/MaxDeliveryAttempts", broker.ErrInvalidOption)
	}
	if p.MaxDeliveries > 0 || p.DeadLetterTopic != "" {
		switch {
		case p.Action == broker.PoisonTerminate:
			return sc, nil, fmt.Errorf("%w: pubsub: Pub/Sub can only dead-letter a poison message, not drop it", broker.ErrUnsupported)
		case p.MaxDeliveries == 0 || p.DeadLetterTopic == "":
			return sc, nil, fmt.Errorf("%w: pubsub: a poison policy needs both MaxDeliveries and DeadLetterTopic on Pub/Sub", broker.ErrInvalidOption)
		}
		sc.DeadLetterTopic, sc.MaxDeliveryAttempts = p.DeadLetterTopic, p.MaxDeliveries
	}
	var rp *pb.RetryPolicy
	if p.NackDelay > 0 {
		rp = &pb.RetryPolicy{MinimumBackoff: durationpb.New(p.NackDelay)}
	}
	return sc, rp, nil
}

// EnsureSubscription creates the subscription if it does not exist yet; an
// existing one is left as it is. It is an admin helper like EnsureTopic.
func (c *Client) EnsureSubscription(ctx context.Context, sc SubscriptionConfig) error {
	if err := broker.ValidateTopicName(sc.Topic); err != nil {
		return err
	}
	if sc.Name == "" {
		return fmt.Errorf("%w: empty subscription name", broker.ErrInvalidTopic)
	}
	sc, retry, err := sc.fromPoison()
	if err != nil {
		return err
	}
	if err := c.usable(); err != nil {
		return err
	}
	req := &pb.Subscription{
		RetryPolicy:               retry,
		Name:                      c.subscriptionPath(sc.Name),
		Topic:                     c.topicPath(sc.Topic),
		AckDeadlineSeconds:        int32(sc.AckDeadline / time.Second),
		EnableMessageOrdering:     sc.Ordering,
		EnableExactlyOnceDelivery: sc.ExactlyOnce,
	}
	if sc.DeadLetterTopic != "" {
		n := sc.MaxDeliveryAttempts
		if n == 0 {
			n = 5
		}
		req.DeadLetterPolicy = &pb.DeadLetterPolicy{DeadLetterTopic: c.topicPath(sc.DeadLetterTopic), MaxDeliveryAttempts: int32(n)}
	}
	_, err = c.c.SubscriptionAdminClient.CreateSubscription(ctx, req)
	if status.Code(err) == codes.AlreadyExists {
		return nil
	}
	return classify(err, fmt.Sprintf("creating subscription %q on topic %q", sc.Name, sc.Topic))
}

// subscriptionInfo is what a Receiver knows of its subscription.
type subscriptionInfo struct {
	deadLetter  bool // Pub/Sub counts deliveries
	exactlyOnce bool
}

func (c *Client) subscriptionInfo(ctx context.Context, name string) (subscriptionInfo, error) {
	s, err := c.c.SubscriptionAdminClient.GetSubscription(ctx, &pb.GetSubscriptionRequest{Subscription: c.subscriptionPath(name)})
	if err != nil {
		return subscriptionInfo{}, classify(err, fmt.Sprintf("subscription %q", name))
	}
	return subscriptionInfo{deadLetter: s.DeadLetterPolicy != nil, exactlyOnce: s.EnableExactlyOnceDelivery}, nil
}
