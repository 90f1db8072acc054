package sbtest_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	"github.com/pullkit/broker/servicebus/sbtest"
)

func TestWrongKeyIsRefusedWithUnauthorized(t *testing.T) {
	srv := newServer(t, sbtest.WithSharedAccessKey("app", "right-key"))
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClientFrom(t, srv.ConnectionStringWithKey("app", "wrong-key"))
	err := mustSender(t, c, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeUnauthorizedAccess {
		t.Fatalf("SendMessage with a wrong key: %v, want CodeUnauthorizedAccess", err)
	}
	if strings.Contains(err.Error(), "wrong-key") || strings.Contains(err.Error(), "right-key") {
		t.Fatalf("error leaks a key: %v", err)
	}
	if got := messagesIn(t, srv, "q"); len(got) != 0 {
		t.Fatalf("a refused client enqueued %+v", got)
	}

	// The right key works on the same server.
	good := newClientFrom(t, srv.ConnectionStringWithKey("app", "right-key"))
	if err := mustSender(t, good, "q").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatalf("SendMessage with the right key: %v", err)
	}
}

func TestRefusedTokenFailsOnlyTheNextAuthorization(t *testing.T) {
	srv := newServer(t)
	mustQueue(t, srv, "q", nil)
	ctx := testCtx(t)
	c := newClient(t, srv)
	srv.RefuseTokens(1)
	s := mustSender(t, c, "q")
	err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
	var sbErr *azservicebus.Error
	if !errors.As(err, &sbErr) || sbErr.Code != azservicebus.CodeUnauthorizedAccess {
		t.Fatalf("SendMessage with a refused token: %v, want CodeUnauthorizedAccess", err)
	}
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatalf("SendMessage after the fault: %v", err)
	}
}

func TestUnknownEntityIsNotFound(t *testing.T) {
	srv := newServer(t)
	ctx := testCtx(t)
	c := newClient(t, srv)
	err := mustSender(t, c, "missing").SendMessage(ctx, &azservicebus.Message{Body: []byte("x")}, nil)
	var amqpErr *amqp.Error
	if !errors.As(err, &amqpErr) || amqpErr.Condition != amqp.ErrCondNotFound {
		t.Fatalf("SendMessage to a missing queue: %v, want amqp:not-found", err)
	}
}
