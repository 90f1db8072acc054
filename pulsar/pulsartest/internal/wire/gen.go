// Package wire holds the protobuf types of the Pulsar binary protocol subset
// that pulsartest speaks, generated from wire.proto.
package wire

//go:generate protoc --go_out=. --go_opt=paths=source_relative wire.proto
