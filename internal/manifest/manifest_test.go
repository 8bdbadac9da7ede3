package manifest

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSplitDocs(t *testing.T) {
	docs := SplitDocs([]byte("# head\na: 1\n---\n# only a comment\n\n---  \nb: 2\n---\n"))
	assert.Equal(t, []string{"# head\na: 1\n", "\nb: 2\n"}, func() (out []string) {
		for _, d := range docs {
			out = append(out, string(d))
		}
		return out
	}())
	assert.Empty(t, SplitDocs([]byte("# nothing\n")))
}
