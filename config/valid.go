package config

// valid reports whether the document is one JSON value with only
// whitespace around it, and records the ends of its outer containers
// (ends). It keeps its open containers in a slice, not on the call
// stack, so nesting depth costs a byte per level and nothing more.
func (d *document) valid() bool {
	s := d.s
	var (
		isObject []bool // the open containers, innermost last
		opened   [endsDepth + 1]int
	)
	i := 0
value:
	for {
		i = d.space(i)
		if i >= len(s) {
			return false
		}
		switch c := s[i]; c {
		case '{', '[':
			if len(isObject) < len(opened) {
				opened[len(isObject)] = i
			}
			isObject = append(isObject, c == '{')
			i = d.space(i + 1)
			if i < len(s) && (s[i] == '}' && c == '{' || s[i] == ']' && c == '[') {
				break // empty: closed below
			}
			if c == '{' {
				if i = d.validKey(i); i < 0 {
					return false
				}
			}
			continue value
		case '"':
			if i = validString(s, i); i < 0 {
				return false
			}
		case 't':
			if i = literal(s, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = literal(s, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = literal(s, i, "null"); i < 0 {
				return false
			}
		default:
			if i = validNumber(s, i); i < 0 {
				return false
			}
		}
		// After a value: close containers until a comma or the end.
		for {
			i = d.space(i)
			n := len(isObject)
			if n == 0 {
				return i == len(s)
			}
			if i >= len(s) {
				return false
			}
			switch s[i] {
			case ',':
				i++
				if isObject[n-1] {
					if i = d.validKey(d.space(i)); i < 0 {
						return false
					}
				}
				continue value
			case '}', ']':
				if isObject[n-1] != (s[i] == '}') {
					return false
				}
				i++
				if n-1 < len(opened) && i-opened[n-1] >= keptEndMin {
					d.ends[opened[n-1]] = i
				}
				isObject = isObject[:n-1]
			default:
				return false
			}
		}
	}
}

// validKey reads a member's name and its colon at i, and returns the
// offset after them, or -1.
func (d *document) validKey(i int) int {
	if i >= len(d.s) || d.s[i] != '"' {
		return -1
	}
	if i = validString(d.s, i); i < 0 {
		return -1
	}
	if i = d.space(i); i >= len(d.s) || d.s[i] != ':' {
		return -1
	}
	return i + 1
}

// validString returns the offset after the string at i, or -1.
func validString(s string, i int) int {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			if i++; i >= len(s) {
				return -1
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) {
					return -1
				}
				for _, h := range []byte(s[i+1 : i+5]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// validNumber returns the offset after the number at i, or -1:
// -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func validNumber(s string, i int) int {
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		i = digitsAt(s, i)
	default:
		return -1
	}
	if i < len(s) && s[i] == '.' {
		if i = digitsAt(s, i+1); i < 0 {
			return -1
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i = digitsAt(s, i); i < 0 {
			return -1
		}
	}
	return i
}

// digitsAt returns the offset after one or more digits at i, or -1.
func digitsAt(s string, i int) int {
	start := i
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

// literal returns the offset after word at i, or -1.
func literal(s string, i int, word string) int {
	if len(s)-i < len(word) || s[i:i+len(word)] != word {
		return -1
	}
	return i + len(word)
}
