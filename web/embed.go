// Package web holds reel's web app, embedded in the binary: the files that
// `cd web && npm ci && npm run build` writes to web/dist (make build runs
// it first). The sources beside this file are the app's; internal/httpapi
// serves what App returns.
//
// A checkout where the app was never built still compiles and serves: the
// pattern dist* matches the committed dist-fallback directory always, and
// dist as well once it is built (a pattern that matches nothing, such as
// dist alone without a build, would stop the compilation). App returns
// dist when it holds an index.html, and otherwise the fallback page, which
// tells the person who opens it how to build the app.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist*
var files embed.FS

// App returns the root of the app to serve (index.html, assets/, ...) and
// whether it is the built app; false means the fallback page.
func App() (fs.FS, bool) { return pick(files) }

// pick chooses between dist and dist-fallback in files.
func pick(files fs.FS) (fs.FS, bool) {
	if dist, err := fs.Sub(files, "dist"); err == nil {
		if st, err := fs.Stat(dist, "index.html"); err == nil && !st.IsDir() {
			return dist, true
		}
	}
	fallback, err := fs.Sub(files, "dist-fallback")
	if err != nil {
		panic(err) // dist-fallback is committed; fs.Sub fails only for an invalid name
	}
	return fallback, false
}
