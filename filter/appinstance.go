package filter

import (
	"strings"

	"github.com/vcap-sticky/vcap-sticky/config"
)

// maxIndexDigits bounds the instance index of X-CF-App-Instance.
const maxIndexDigits = 10

// parseAppInstance splits "<lower-case hex uuid>:<digits>", the only form
// gorouter accepts for X-CF-App-Instance.
func parseAppInstance(v string) (guid, index string, ok bool) {
	guid, index, found := strings.Cut(v, ":")
	if !found || !config.IsAppGUID(guid) || index == "" || len(index) > maxIndexDigits {
		return "", "", false
	}
	for i := 0; i < len(index); i++ {
		if index[i] < '0' || index[i] > '9' {
			return "", "", false
		}
	}
	return guid, index, true
}
