package blob

import "testing"

// TestSpanRange: the Range a span asks the store for, and where its reads
// stop, for every kind of span, near the largest offsets too (where a
// window past the start would overflow into a malformed header, which a
// store answers with the whole object).
func TestSpanRange(t *testing.T) {
	const window, size = 1 << 20, 5000
	for _, c := range []struct {
		span   Span
		header string
		limit  int64
	}{
		{Span{End: ToEnd}, "", size},
		{Span{Start: 10, End: ToEnd}, "bytes=10-", size},
		{Span{Start: 10, End: 20}, "bytes=10-19", 20},
		{Span{Start: 10, End: 9000}, "bytes=10-8999", size},
		{Span{Start: -100}, "bytes=-100", size},
		{Span{Start: -100, End: 5}, "bytes=-100", size},
		{Span{Start: 10}, "bytes=10-1048585", 0},
		{Span{Start: 10, End: 10}, "bytes=10-1048585", 0},
		{Span{Start: 10, End: 3}, "bytes=10-1048585", 0},
		{Span{Start: ToEnd - 5}, "bytes=9223372036854775802-", 0},
		{Span{Start: ToEnd - window}, "bytes=9223372036853727231-9223372036854775806", 0},
		{Span{Start: ToEnd - window + 1}, "bytes=9223372036853727232-", 0},
	} {
		if h := c.span.rangeHeader(window); h != c.header {
			t.Errorf("%+v: Range %q, want %q", c.span, h, c.header)
		}
		if l := c.span.Limit(size); l != c.limit {
			t.Errorf("%+v: limit %d, want %d", c.span, l, c.limit)
		}
	}
}
