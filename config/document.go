package config

import "github.com/tidwall/gjson"

// document walks the configuration's outer levels (the configuration, its
// routes, each route) member by member. gjson finds the end of a member's
// value at every level it walks, so for a route of 100,000 instances each
// level was one more pass over megabytes. document validates the text in
// one pass (parseDocument), which also finds the ends of the outer
// containers, so the levels below look them up.
type document struct {
	s string
	// ends maps the offset of an object or array to the offset after it,
	// for containers at most endsDepth levels inside the top-level one and
	// of keptEndMin bytes or more: there are at most endsDepth+1 of those
	// per keptEndMin bytes of text, and a smaller one is soon skipped again.
	ends map[int]int
}

// endsDepth covers routes → route → instances from the configuration.
const endsDepth = 3

const keptEndMin = 4096

// parseDocument validates s as one JSON value (RFC 8259, the grammar
// encoding/json accepts), and reports false if it is not.
func parseDocument(s string) (*document, bool) {
	d := &document{s: s, ends: map[int]int{}}
	return d, d.valid()
}

// root is the configuration's top-level value.
func (d *document) root() gjson.Result {
	i := d.space(0)
	if i < len(d.s) && (d.s[i] == '{' || d.s[i] == '[') {
		return gjson.Result{Type: gjson.JSON, Raw: d.s[i:d.end(i)], Index: i}
	}
	return gjson.Parse(d.s)
}

func (d *document) space(i int) int { return skipSpace(d.s, i) }

// skipSpace returns the offset of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// end is the offset after the object or array at i: looked up for the
// outer levels, else found by skipping its contents.
func (d *document) end(i int) int {
	if e, ok := d.ends[i]; ok {
		return e
	}
	depth := 0
	for j := i; j < len(d.s); j++ {
		switch d.s[j] {
		case '"':
			for j++; j < len(d.s) && d.s[j] != '"'; j++ {
				if d.s[j] == '\\' {
					j++
				}
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth <= 0 {
				return j + 1
			}
		}
	}
	return len(d.s)
}

// value is the value at i (after whitespace), as gjson returns one, with
// its offset in Index.
func (d *document) value(i int) gjson.Result {
	i = d.space(i)
	if i >= len(d.s) {
		return gjson.Result{}
	}
	if c := d.s[i]; c == '{' || c == '[' {
		return gjson.Result{Type: gjson.JSON, Raw: d.s[i:d.end(i)], Index: i}
	}
	v := gjson.Parse(d.s[i:])
	v.Index = i
	return v
}

// contents: the offsets inside a container value that this document
// returned, after its opening byte and before its closing one.
func (d *document) contents(v gjson.Result) (from, to int, ok bool) {
	from, to = v.Index+1, v.Index+len(v.Raw)-1
	return from, to, v.Type == gjson.JSON && len(v.Raw) >= 2 && to <= len(d.s)
}

// members calls each with the members of the object v (a value this
// document returned), in order, until each returns false.
func (d *document) members(v gjson.Result, each func(key string, v gjson.Result) bool) {
	i, to, ok := d.contents(v)
	if !ok || v.Raw[0] != '{' {
		return
	}
	for {
		i = d.space(i)
		if i >= to || d.s[i] != '"' {
			return
		}
		k := gjson.Parse(d.s[i:to]) // the key: a string, unescaped
		if k.Type != gjson.String {
			return
		}
		i = d.space(i + len(k.Raw))
		if i >= to || d.s[i] != ':' {
			return
		}
		val := d.value(i + 1)
		if !val.Exists() || !each(k.Str, val) {
			return
		}
		i = d.space(val.Index + len(val.Raw))
		if i >= to || d.s[i] != ',' {
			return
		}
		i++
	}
}

// elements are the elements of the array v (a value this document
// returned); nil if v is not an array.
func (d *document) elements(v gjson.Result) []gjson.Result {
	i, to, ok := d.contents(v)
	if !ok || v.Raw[0] != '[' {
		return nil
	}
	var list []gjson.Result
	for {
		val := d.value(i)
		if val.Index >= to || !val.Exists() {
			return list
		}
		list = append(list, val)
		i = d.space(val.Index + len(val.Raw))
		if i >= to || d.s[i] != ',' {
			return list
		}
		i++
	}
}
