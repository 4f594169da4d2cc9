package httpapi

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"syscall"

	"github.com/gin-gonic/gin"
)

// Sending a large answer in one push.
//
// net/http writes a response through a 4 KiB connection buffer: an answer
// larger than that leaves in two or more writes (the buffer, holding the
// headers and the body's start, then the rest), and with TCP_NODELAY (Go's
// default) each write is pushed to the network at once. Per push the
// kernel's work is mostly fixed (segmenting, on loopback the receiver's
// side too), so for a 21 KB feed page the first, 4 KiB push cost more CPU
// than the rest after it, and the two writes were about 40% of the
// server's CPU in make bench. Clients that ask for gzip (browsers, most
// app HTTP stacks) get a compressed answer instead, which is not corked.
//
// Corking the socket around the answer (TCP_CORK on Linux) lets the kernel
// queue the writes and push them as one. Only whole answers written at
// once are corked (writeBody): a stream that flushes (events, media) must
// not be held back, and the kernel would hold a corked partial packet for
// up to 200 ms. Where corking is not available (another OS, a connection
// that is not TCP, HTTP/2, whose frames are written by another goroutine)
// the answer is written as before.

// connKey is the request context key of the client's connection.
type connKey struct{}

// withConn is the http.Server's ConnContext: it makes the connection
// reachable from the request, for corking.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// corkAbove is the body size above which an answer is corked: below it
// the headers and body fit net/http's buffer and leave in one write.
const corkAbove = 3 << 10

// writeCorked runs write, which writes a whole answer, with the
// connection corked, then flushes it and uncorks it, which pushes it.
func writeCorked(c *gin.Context, write func()) {
	raw := corkable(c)
	if raw == nil || !setCork(raw, true) {
		write()
		return
	}
	// Whatever happens in write (a panic is recovered further up), the
	// connection must not stay corked: later answers would wait on it.
	defer setCork(raw, false)
	write()
	_ = http.NewResponseController(c.Writer).Flush() // an error is the connection's: the client is gone
}

// corkable is the socket of c's connection when its answer can be corked:
// HTTP/1 over TCP (or TLS over TCP), and not to be compressed (gzipJSON
// streams compressed bodies; a flush there would add a needless block).
func corkable(c *gin.Context) syscall.RawConn {
	if c.Request.ProtoMajor != 1 {
		return nil
	}
	if w, ok := c.Writer.(*gzipWriter); ok && w.accept {
		return nil
	}
	conn, _ := c.Request.Context().Value(connKey{}).(net.Conn)
	if t, ok := conn.(*tls.Conn); ok {
		conn = t.NetConn()
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
