// Package playback hands out signed media URLs and serves them.
//
// # URLs
//
// Every object in the blob store is reachable under Mount ("/media/") by its
// key, but only through a URL that carries an expiry and an HMAC-SHA256
// signature. There are two forms.
//
// A single object (a cover, a progressive MP4) is signed in the query:
//
//	/media/videos/42/cover.jpg?exp=1767225600&kid=3f9a1c07&sig=<43 base64url chars>
//
// A whole directory (an HLS rendition ladder) is signed in the path, so that
// the signature is part of the base every relative URL resolves against:
//
//	/media/s/3f9a1c07.1767225600.3.<sig>/videos/42/hls/master.m3u8
//	         kid      exp        depth
//
// The token after "/media/s/" signs the first depth segments of the key that
// follows it, here "videos/42/hls/". The playlists hold plain relative URLs
// ("720p/index.m3u8", "seg_00001.m4s"); a player that resolves them the
// standard way (RFC 3986, as ffprobe, hls.js and AVPlayer do) asks for
//
//	/media/s/3f9a1c07.1767225600.3.<sig>/videos/42/hls/720p/seg_00001.m4s
//
// which lies under the same signed prefix. Nothing rewrites playlists, and a
// query string would not survive that resolution. A relative URL that climbs
// out ("../cover.jpg") lands outside the prefix and fails. The first segment
// "s" is therefore reserved: no object whose key starts with "s/" can be
// signed.
//
// A URL bound to one client (WithClientIP) carries the address: "&ip=203.0.113.7"
// in the query form, and a fourth token field with the address bytes in hex
// (cb007107) in the path form, where dots and colons would be ambiguous.
//
// The signature covers the form, the signed path or prefix, the expiry, the
// key id and the address, with a key derived from REEL_SECRET for this one
// purpose. The key id names which secret signed, so a secret can be rotated:
// while the previous secret is still configured, URLs it signed keep working
// until they expire.
//
// Expiries are rounded up to a quarter of the lifetime: everyone who asks for
// the same object in the same window gets the same URL, so browser and CDN
// caches, which key on the whole URL, can share one copy. A URL therefore lives
// between ttl and 1.25×ttl.
//
// Verification is strict rather than forgiving: a path that is not already
// clean (percent-escapes, "..", ".", "//", backslashes, characters outside
// A-Z a-z 0-9 - . _ ~) is refused instead of normalised, so there is exactly
// one spelling of every signed URL.
//
// # Serving
//
// The handler serves objects with http.ServeContent, over the *os.File itself
// when the store is on disk, which is what lets the kernel copy with sendfile;
// Range, If-Range, ETag, 304 and 416 come from there. Segments, covers and
// MP4s never change once written and are cached as immutable for a year.
// Variant playlists of a finished video never change either, but they are
// the entry point of playback: they are cached for a minute only, so that
// blocking a video stops new playbacks quickly even through a CDN, at the
// cost of one tiny revalidation (ETag, 304) per minute per cache. A video's
// master playlist and MPD change when its captions do, and the early
// playlists (live.m3u8) grow: those are revalidated on every request
// (no-cache).
//
// On a remote store (S3) the same ServeContent reads the object through a
// lazy ranged reader: a Range reads that range, a HEAD or a 304 reads
// nothing, and memory per connection is a copy buffer whatever the size;
// ETag and Last-Modified are the store's. A GET whose bytes the request
// names (no range or one, no condition) opens the object with their read
// already asked for (blob.SpanOpener), so that it is one request to the
// store, not a lookup and then a read. With HandlerOptions.Redirect
// (REEL_MEDIA_DELIVERY=redirect) a GET of a segment, MP4 or cover is
// checked exactly as above and then answered 302 to a presigned URL of the
// store that lives at most MaxRedirectTTL and never past the reel URL; the
// 302 is not cacheable, since neither a block nor an expiry can reach a
// copy of it. Playlists stay on reel (their relative URLs must resolve
// under the signed prefix), and so does HEAD (a presigned GET refuses it).
package playback
