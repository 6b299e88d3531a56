// Package version holds the version of this build of ig. It is set at link
// time: -ldflags "-X github.com/gadgetkit/ig/internal/version.Version=v0.1.0".
package version

// Version is this build's version.
var Version = "v0.1.0-dev"
