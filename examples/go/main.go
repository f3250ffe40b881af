// A tiny bucketd client in Go: lists the buckets of a namespace over gRPC; given a bucket and
// a file property of it, uploads random bytes there (UploadObject) and reads them back
// (ReadObject), each slice checked against its CRC32C and the whole against the stored SHA-256.
//
//	BUCKETD_API_KEY=sk_test_... scripts/go-example.sh   (from the repository's root;
//	    BUCKETD_ADDRESS, default localhost:50051; BUCKETD_NAMESPACE, default "default")
//	BUCKETD_API_KEY=sk_test_... scripts/go-example.sh BUCKET PROPERTY
//
// The script generates the stubs (`buf generate --template buf.gen.go.yaml`, into gen/go) and
// builds this file against them in GOPATH mode over Debian's Go packages.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
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
	if len(os.Args) == 3 {
		if err := roundTrip(ctx, bucketdv1.NewObjectServiceClient(conn), os.Args[1], os.Args[2]); err != nil {
			log.Fatal(err)
		}
	}
}

// upload streams `data` as the `property` blob of a new object of `bucket`: its id.
func upload(ctx context.Context, objects bucketdv1.ObjectServiceClient, bucket, property string, data []byte) (string, error) {
	stream, err := objects.UploadObject(ctx)
	if err != nil {
		return "", fmt.Errorf("UploadObject: %w", err)
	}
	header := &bucketdv1.UploadObjectHeader{
		BucketIdentifier: bucket,
		Blobs:            []*bucketdv1.UploadBlobHeader{{Property: property, MimeType: "text/plain", Filename: "from-go.txt"}},
	}
	if err := stream.Send(&bucketdv1.UploadObjectRequest{Message: &bucketdv1.UploadObjectRequest_Header{Header: header}}); err != nil {
		return "", fmt.Errorf("UploadObject header: %w", err)
	}
	const chunk = 1 << 20
	for offset := 0; offset < len(data); offset += chunk {
		end := offset + chunk
		if end > len(data) {
			end = len(data)
		}
		piece := &bucketdv1.BlobChunk{WriteOffset: int64(offset), Data: data[offset:end]}
		if err := stream.Send(&bucketdv1.UploadObjectRequest{Message: &bucketdv1.UploadObjectRequest_Chunk{Chunk: piece}}); err != nil {
			return "", fmt.Errorf("UploadObject chunk: %w", err)
		}
	}
	made, err := stream.CloseAndRecv()
	if err != nil {
		return "", fmt.Errorf("UploadObject: %w", err)
	}
	return made.GetObject().GetObjectId(), nil
}

// roundTrip uploads random bytes and reads them back through ReadObject: the first message
// carries the blob's metadata, each later one a slice and its CRC32C (Castagnoli).
func roundTrip(ctx context.Context, objects bucketdv1.ObjectServiceClient, bucket, property string) error {
	data := make([]byte, 3<<20+7)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	objectID, err := upload(ctx, objects, bucket, property, data)
	if err != nil {
		return err
	}
	stream, err := objects.ReadObject(ctx, &bucketdv1.ReadObjectRequest{
		BucketIdentifier: bucket, ObjectIdentifier: objectID, Blob: property})
	if err != nil {
		return fmt.Errorf("ReadObject: %w", err)
	}
	first, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("ReadObject: %w", err)
	}
	castagnoli := crc32.MakeTable(crc32.Castagnoli)
	var got []byte
	slices := 0
	for {
		message, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("ReadObject: %w", err)
		}
		slice := message.GetChecksummedData()
		if crc32.Checksum(slice.GetContent(), castagnoli) != slice.GetCrc32C() {
			return fmt.Errorf("ReadObject: slice %d arrived corrupted (CRC32C)", slices)
		}
		got = append(got, slice.GetContent()...)
		slices++
	}
	sum := sha256.Sum256(got)
	if stored := first.GetMetadata().GetDetails().GetHash(); stored != "sha256:"+hex.EncodeToString(sum[:]) {
		return fmt.Errorf("ReadObject: the bytes' SHA-256 is not the stored %s", stored)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("ReadObject: the bytes read back differ from those uploaded")
	}
	fmt.Printf("%s: %d bytes uploaded and read back in %d slices, equal\n", objectID, len(got), slices)
	return nil
}
