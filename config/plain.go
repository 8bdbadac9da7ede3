package config

import "github.com/tidwall/gjson"

// plainScanner reads a route's instances array in one pass. gjson walks
// each element twice (it finds the object's end, then walks its members),
// and for 100,000 instances that was most of a parse. The scanner reads
// what a generated instance map holds: objects whose members are strings
// without escapes, numbers, true, false or null, with any whitespace. At
// anything else (an escape, a nested value, an element that is not an
// object) it stops and sets notPlain, and the caller reads the array with
// gjson instead. Its input has been validated (document); it still checks
// every index, so that no input can make it read out of range.
type plainScanner struct {
	s        string
	i        int
	notPlain bool
	members  int // members read in the current element
	elements int // elements begun
}

func (p *plainScanner) space() { p.i = skipSpace(p.s, p.i) }

// eat consumes c after whitespace, if it is next.
func (p *plainScanner) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *plainScanner) stop() bool {
	p.notPlain = true
	return false
}

// nextObject moves into the array's next element, and reports whether
// there is one that is an object.
func (p *plainScanner) nextObject() bool {
	switch {
	case p.notPlain:
		return false
	case p.elements == 0 && !p.eat('['):
		return p.stop()
	case p.eat(']'):
		return false
	case p.elements > 0 && !p.eat(','):
		return p.stop()
	case !p.eat('{'):
		return p.stop()
	}
	p.elements++
	p.members = 0
	return true
}

// nextMember reads the current object's next member, and reports whether
// there is one it could read. After its last member, the scanner is past
// the object's '}'.
func (p *plainScanner) nextMember() (key string, v gjson.Result, ok bool) {
	switch {
	case p.notPlain:
		return "", v, false
	case p.eat('}'):
		return "", v, false
	case p.members > 0 && !p.eat(','):
		return "", v, p.stop()
	}
	p.space()
	key, ok = p.str()
	if !ok || !p.eat(':') {
		return "", v, p.stop()
	}
	if v, ok = p.value(); !ok {
		return "", v, p.stop()
	}
	p.members++
	return key, v, true
}

// str reads a string without escapes; its content is a substring of s.
func (p *plainScanner) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch p.s[j] {
		case '"':
			p.i = j + 1
			return p.s[start:j], true
		case '\\':
			return "", false
		}
	}
	return "", false
}

// value reads a string without escapes or a scalar, as gjson would
// return it (Type, Raw, and Str or Num).
func (p *plainScanner) value() (gjson.Result, bool) {
	p.space()
	if p.i >= len(p.s) {
		return gjson.Result{}, false
	}
	start := p.i
	switch c := p.s[p.i]; {
	case c == '"':
		s, ok := p.str()
		return gjson.Result{Type: gjson.String, Raw: p.s[start:p.i], Str: s}, ok
	case c == '-' || '0' <= c && c <= '9' || c == 't' || c == 'f' || c == 'n':
		for p.i < len(p.s) && scalarByte(p.s[p.i]) {
			p.i++
		}
		return gjson.Parse(p.s[start:p.i]), true
	}
	return gjson.Result{}, false
}

// scalarByte: a byte of a JSON number or of true, false and null.
func scalarByte(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}
