package config

// Cookie names the filter owns, as in gorouter.
const (
	VCAPCookie = "__VCAP_ID__"
	MetaCookie = "__VCAP_ID_META__"
	// MaxIDLength bounds an instance id, so a cookie stays far below the
	// 4096-byte limit browsers keep.
	MaxIDLength = 256
)

// IsAppGUID reports whether s is a lower-case hex UUID (8-4-4-4-12), the
// form gorouter accepts in X-CF-App-Instance.
func IsAppGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

// headerName: a lower-case RFC 9110 token (Envoy keys headers in lower case).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || !isTokenByte(c) {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// headerValueToken: a conservative set for names that travel in a header.
func headerValueToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return false
		}
	}
	return true
}

// validHost: "*" or a lower-case DNS name / IPv4 address, without a port.
func validHost(s string) bool {
	if s == "*" {
		return true
	}
	if s == "" || len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// validPath: a context path usable as a cookie Path attribute.
func validPath(s string) bool {
	if s == "" || s[0] != '/' || (len(s) > 1 && s[len(s)-1] == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// '"' and '\\' too: net/http writes them in a cookie Path but reads
		// neither back, so the cookie package refuses to build such a cookie.
		if c <= ' ' || c >= 0x7f || c == ';' || c == '?' || c == '#' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
