// Package manifest reads multi-document Kubernetes YAML files for the
// manifest tests (deploy/istio, deploy/envoy-gateway).
package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
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

// Generated is the header a generator script writes above its output
// (scripts/istio-xds.sh, scripts/envoy-gateway-xds.sh):
//
//	# <tool> <version>; inputs <file> <file> ...
//	# inputs sha256 <hex of SHA-256 over the inputs' bytes, in order>
type Generated struct {
	Version string
	Inputs  []string
	Sum     string
}

// ReadGenerated finds tool's header in the first KiB of out.
func ReadGenerated(out []byte, tool string) (Generated, bool) {
	re := regexp.MustCompile(`(?m)^# ` + regexp.QuoteMeta(tool) + ` (\S+); inputs (.+)\n# inputs sha256 ([0-9a-f]{64})$`)
	m := re.FindSubmatch(out[:min(len(out), 1024)])
	if m == nil {
		return Generated{}, false
	}
	return Generated{Version: string(m[1]), Inputs: strings.Fields(string(m[2])), Sum: string(m[3])}, true
}

// InputsSum is the SHA-256 the header's second line records for files, read
// from the current directory.
func InputsSum(files []string) (string, error) {
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// RequiredVersion is the version go.mod (its bytes) requires of module.
func RequiredVersion(gomod []byte, module string) (string, bool) {
	m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(module) + ` (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		return "", false
	}
	return string(m[1]), true
}
