package sticky

import "github.com/vcap-sticky/vcap-sticky/config"

// ParseAppInstance splits X-CF-App-Instance "<lower-case hex uuid>:<digits>",
// the only form gorouter accepts. The index is any run of ASCII digits and is
// compared as text, as gorouter compares it: "07" is not instance 7.
func ParseAppInstance(v string) (guid, index string, ok bool) {
	if len(v) < 38 || v[36] != ':' || !config.IsAppGUID(v[:36]) {
		return "", "", false
	}
	guid, index = v[:36], v[37:]
	for i := 0; i < len(index); i++ {
		if index[i] < '0' || index[i] > '9' {
			return "", "", false
		}
	}
	return guid, index, true
}
