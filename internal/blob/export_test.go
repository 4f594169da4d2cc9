package blob

// What the store-independent tests (package blob_test, which can import
// s3test) need from inside.
var HostileKeys = hostileKeys

const (
	TempPrefix = tempPrefix
	PartSize   = partSize
)
