// A tiny bucketd client in Go: lists the buckets of a namespace over gRPC.
//
//	BUCKETD_API_KEY=sk_test_... scripts/go-example.sh   (from the repository's root;
//	    BUCKETD_ADDRESS, default localhost:50051; BUCKETD_NAMESPACE, default "default")
//
// The script generates the stubs (`buf generate --template buf.gen.go.yaml`, into gen/go) and
// builds this file against them in GOPATH mode over Debian's Go packages.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	bucketdv1 "github.com/bucketd/bucketd/gen/go/bucketd/v1"
)

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

func main() {
	address := getenv("BUCKETD_ADDRESS", "localhost:50051")
	conn, err := grpc.Dial(address, grpc.WithInsecure())
	if err != nil {
		log.Fatalf("dial %s: %v", address, err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx,
		"authorization", "Bearer "+os.Getenv("BUCKETD_API_KEY"),
		"x-namespace", getenv("BUCKETD_NAMESPACE", "default"))

	limit := int32(100)
	reply, err := bucketdv1.NewBucketServiceClient(conn).ListBuckets(ctx,
		&bucketdv1.ListBucketsRequest{Limit: &limit})
	if err != nil {
		log.Fatalf("ListBuckets: %v", err) // the status code and bucketd's message
	}
	for _, bucket := range reply.GetResults() {
		fmt.Println(bucket.GetBucketId(), bucket.GetBucketName())
	}
	fmt.Println(reply.GetTotalCount(), "bucket(s)")
}
