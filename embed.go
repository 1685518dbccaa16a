// Package enlace holds the files compiled into the enlace binary: the
// default configuration, the page templates and the static assets.
package enlace

import "embed"

// DefaultConfig is the repository's config.yaml, the built-in defaults.
//
//go:embed config.yaml
var DefaultConfig []byte

// Templates holds templates/*.html.
//
//go:embed templates
var Templates embed.FS

// Static holds static/, served under /static/.
//
//go:embed static
var Static embed.FS
