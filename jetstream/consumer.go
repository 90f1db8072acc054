package jetstream

import (
	"context"
	"errors"
	"fmt"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/pullkit/broker"
)

// resolveStream finds the stream a consumer reads: the named one, or the
// one capturing subject. With create, a missing stream is created (named
// after the subject when no name is given) capturing just subject, with
// JetStream's defaults (file storage, limits retention). A missing stream
// without create is broker.ErrNotFound.
func (c *Client) resolveStream(ctx context.Context, stream, subject string, create bool) (string, error) {
	if stream != "" {
		if err := validateName("stream", stream); err != nil {
			return "", err
		}
		_, err := c.js.Stream(ctx, stream)
		switch {
		case err == nil:
			return stream, nil
		case !errors.Is(err, natsjs.ErrStreamNotFound) || !create:
			return "", fmt.Errorf("jetstream: stream %q: %w", stream, mapErr(err))
		}
	} else {
		name, err := c.js.StreamNameBySubject(ctx, subject)
		switch {
		case err == nil:
			return name, nil
		case !errors.Is(err, natsjs.ErrStreamNotFound) || !create:
			return "", fmt.Errorf("jetstream: no stream captures subject %q: %w", subject, mapErr(err))
		}
		stream = streamNameFor(subject)
	}
	_, err := c.js.CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subject}})
	if err != nil && !errors.Is(err, natsjs.ErrStreamNameAlreadyInUse) {
		return "", fmt.Errorf("jetstream: create stream %q on %q: %w", stream, subject, mapErr(err))
	}
	return stream, nil
}

// openConsumer binds to the durable consumer name of stream, or creates
// (or updates) it with cfg when bind is false. A missing consumer with bind
// is broker.ErrNotFound.
func (c *Client) openConsumer(ctx context.Context, stream string, cfg natsjs.ConsumerConfig, bind bool) (natsjs.Consumer, error) {
	if bind {
		cons, err := c.js.Consumer(ctx, stream, cfg.Durable)
		if err != nil {
			return nil, fmt.Errorf("jetstream: consumer %q of stream %q: %w", cfg.Durable, stream, mapErr(err))
		}
		return cons, nil
	}
	cons, err := c.js.CreateOrUpdateConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("jetstream: create consumer %q on stream %q: %w", cfg.Durable, stream, mapErr(err))
	}
	return cons, nil
}

// checkAckPolicy refuses a consumer (bound as it is, or edited by the
// ConsumerConfig hook) that does not ack as the semantics need: a queue
// needs explicit acks (AckAll would settle other workers' messages with
// one ack, AckNone settles on delivery), a log cumulative ones (AckNone
// commits records on delivery, before anyone read them).
func checkAckPolicy(cons natsjs.Consumer, want natsjs.AckPolicy, what string) error {
	info := cons.CachedInfo()
	if info == nil || info.Config.AckPolicy == want {
		return nil
	}
	return fmt.Errorf("%w: consumer %q of stream %q acks with %v; a %s needs %v", broker.ErrInvalidOption,
		info.Name, info.Stream, info.Config.AckPolicy, what, want)
}

// consumerCommon holds the settings queue and log consumers share.
type consumerCommon struct {
	Stream, Subject, Name string
	CreateStream, Bind    bool
}

func (cc consumerCommon) validate(nameField string) error {
	if cc.Subject == "" && cc.Stream == "" {
		return fmt.Errorf("%w: set Subject (or Stream)", broker.ErrInvalidTopic)
	}
	if cc.Subject != "" {
		if err := validateSubject(cc.Subject, true); err != nil {
			return err
		}
	}
	if cc.CreateStream && cc.Subject == "" {
		return fmt.Errorf("%w: CreateStream needs a Subject", broker.ErrInvalidOption)
	}
	if err := validateName("consumer", cc.Name); err != nil {
		return fmt.Errorf("%s: %w", nameField, err)
	}
	return nil
}
