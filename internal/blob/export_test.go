package blob

// What the store-independent tests (package blob_test, which can import
// s3test) need from inside.
var HostileKeys = hostileKeys

const (
	TempPrefix = tempPrefix
	PartSize   = partSize
)

// SetUploadsPage makes listings of multipart uploads return n at a time
// until the test ends.
func SetUploadsPage(t interface{ Cleanup(func()) }, n int32) {
	old := uploadsPage
	uploadsPage = n
	t.Cleanup(func() { uploadsPage = old })
}
