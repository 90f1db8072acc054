package pubsub_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	pb "cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fastServer is a minimal Pub/Sub server for throughput benchmarks: every
// Publish succeeds at once, and every streaming pull is answered with
// batches of pullBatch fresh messages as fast as the client reads them.
// pstest delivers about one message per stream every 10 ms, so a receive
// benchmark on it would measure pstest. Acks and modacks are counted and
// dropped.
type fastServer struct {
	pb.UnimplementedPublisherServer
	pb.UnimplementedSubscriberServer

	addr  string
	acks  atomic.Int64
	msgID atomic.Int64
}

const pullBatch = 100

func newFastServer(tb testing.TB) *fastServer {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &fastServer{addr: lis.Addr().String()}
	gs := grpc.NewServer()
	pb.RegisterPublisherServer(gs, s)
	pb.RegisterSubscriberServer(gs, s)
	go func() { _ = gs.Serve(lis) }()
	tb.Cleanup(gs.Stop)
	return s
}

func (s *fastServer) options() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(s.addr),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
		option.WithoutAuthentication(),
		option.WithTelemetryDisabled(),
	}
}

func (s *fastServer) Publish(_ context.Context, req *pb.PublishRequest) (*pb.PublishResponse, error) {
	ids := make([]string, len(req.Messages))
	for i := range ids {
		ids[i] = strconv.FormatInt(s.msgID.Add(1), 10)
	}
	return &pb.PublishResponse{MessageIds: ids}, nil
}

func (s *fastServer) GetSubscription(_ context.Context, req *pb.GetSubscriptionRequest) (*pb.Subscription, error) {
	return &pb.Subscription{Name: req.Subscription, Topic: "projects/p/topics/t", AckDeadlineSeconds: 10}, nil
}

func (s *fastServer) Acknowledge(_ context.Context, req *pb.AcknowledgeRequest) (*emptypb.Empty, error) {
	s.acks.Add(int64(len(req.AckIds)))
	return &emptypb.Empty{}, nil
}

func (s *fastServer) ModifyAckDeadline(context.Context, *pb.ModifyAckDeadlineRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// StreamingPull sends batches until the client goes away; gRPC's flow
// control holds Send back when the client stops reading.
func (s *fastServer) StreamingPull(stream pb.Subscriber_StreamingPullServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	go func() { // drain the client's pings and notice its end
		for {
			if _, err := stream.Recv(); err != nil {
				return
			}
		}
	}()
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	attrs := map[string]string{"source": "brokertest"}
	now := timestamppb.Now()
	for {
		msgs := make([]*pb.ReceivedMessage, pullBatch)
		for i := range msgs {
			id := strconv.FormatInt(s.msgID.Add(1), 10)
			msgs[i] = &pb.ReceivedMessage{AckId: id, Message: &pb.PubsubMessage{
				MessageId: id, Data: data, Attributes: attrs, PublishTime: now,
			}}
		}
		if err := stream.Send(&pb.StreamingPullResponse{ReceivedMessages: msgs}); err != nil {
			return err
		}
		if err := stream.Context().Err(); err != nil {
			return err
		}
	}
}
