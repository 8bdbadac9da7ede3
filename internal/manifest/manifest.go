// Package manifest reads multi-document Kubernetes YAML files for the
// manifest tests (deploy/istio, deploy/envoy-gateway).
package manifest

import (
	"regexp"
	"strings"
)

var (
	separator   = regexp.MustCompile(`(?m)^---[ \t]*$`)
	commentLine = regexp.MustCompile(`(?m)^\s*#.*$`)
)

// SplitDocs splits a YAML stream at "---" lines, dropping documents that
// hold only comments and blank lines.
func SplitDocs(data []byte) [][]byte {
	var docs [][]byte
	for _, d := range separator.Split(string(data), -1) {
		if strings.TrimSpace(commentLine.ReplaceAllString(d, "")) != "" {
			docs = append(docs, []byte(d))
		}
	}
	return docs
}
