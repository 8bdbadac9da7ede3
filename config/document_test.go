package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// walkDocument and walkGJSON describe a JSON value as the member keys and
// values (type and raw text, strings unescaped) of its containers, nested
// to depth; the first walks with document, the second with gjson, the
// reference.
func walkDocument(d *document, v gjson.Result, depth int, out *[]string) {
	*out = append(*out, describe(v))
	if depth == 0 || v.Type != gjson.JSON {
		return
	}
	if v.IsArray() {
		for _, e := range d.elements(v) {
			walkDocument(d, e, depth-1, out)
		}
		return
	}
	d.members(v, func(k string, e gjson.Result) bool {
		*out = append(*out, "key "+k)
		walkDocument(d, e, depth-1, out)
		return true
	})
}

func walkGJSON(v gjson.Result, depth int, out *[]string) {
	*out = append(*out, describe(v))
	if depth == 0 || v.Type != gjson.JSON {
		return
	}
	v.ForEach(func(k, e gjson.Result) bool {
		if !v.IsArray() {
			*out = append(*out, "key "+k.Str)
		}
		walkGJSON(e, depth-1, out)
		return true
	})
}

func describe(v gjson.Result) string {
	return v.Type.String() + " " + v.Raw + " " + v.Str
}

func equalWalks(t *testing.T, data string) {
	t.Helper()
	d, ok := parseDocument(data)
	if ok != json.Valid([]byte(data)) {
		t.Fatalf("%q: parseDocument says valid %v, encoding/json %v", data, ok, !ok)
	}
	if !ok {
		return
	}
	var got, want []string
	walkDocument(d, d.root(), 6, &got)
	walkGJSON(gjson.Parse(data), 6, &want)
	// gjson.Parse keeps the whitespace after a top-level container in its Raw.
	if root := gjson.Parse(data); root.Type == gjson.JSON {
		root.Raw = strings.TrimRight(root.Raw, " \t\r\n")
		want[0] = describe(root)
	}
	if len(got) != len(want) {
		t.Fatalf("%q: document walks\n%q\ngjson\n%q", data, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q: document walks %q at %d, gjson %q", data, got[i], i, want[i])
		}
	}
}

func TestDocumentWalksAsGJSON(t *testing.T) {
	for _, data := range documentSeeds {
		equalWalks(t, data)
	}
}

// The ends of the outer containers are found once, while validating: of
// those large enough to be worth keeping (keptEndMin).
func TestDocumentFindsEachEndOnce(t *testing.T) {
	pad := strings.Repeat(" ", keptEndMin)
	data := `{"routes":[{"host":"a","instances":[{"id":"x","nested":{"deep":[` + pad + `]}}]},{"host":"b","instances":[]}],"pinning":{"mode":"cluster"},` +
		`"big":{"x":"` + pad + `"}}`
	d, ok := parseDocument(data)
	if !ok {
		t.Fatal("not valid")
	}
	// The configuration, routes, the first route and its instances, big:
	// not the instance objects and what they hold (too deep), nor the
	// second route, its instances or pinning (too small).
	if len(d.ends) != 5 {
		t.Fatalf("validating kept %d ends, want 5: %v", len(d.ends), d.ends)
	}
	for _, at := range []string{`{"routes"`, `[{"host":"a"`, `{"host":"a"`, `[{"id"`, `{"x"`} {
		start := strings.Index(data, at)
		var raw json.RawMessage // the container as encoding/json reads it
		if err := json.NewDecoder(strings.NewReader(data[start:])).Decode(&raw); err != nil {
			t.Fatal(err)
		}
		if end, ok := d.ends[start]; !ok || end != start+len(raw) {
			t.Fatalf("%s… at %d: kept end %d (%v), encoding/json reads %d bytes", at, start, end, ok, len(raw))
		}
	}
}

var documentSeeds = []string{
	`{}`, `[]`, ` { } `, `"s"`, `1`, `null`, `{"a":1}`, `[1,"b",true,false,null,{},[]]`,
	`{"routes":[{"host":"h","instances":[{"id":"a","address":"10.0.0.1:8080"}]}]}`,
	"{\n\t\"a\" : [ 1 , { \"b\" : \"c\\\"]}\" } ] ,\r\n \"d\":{\"e\":[[[]]]}\n}\n",
	`{"k\u0065y":"v\\u00e9\"","\\":"]","x":-1.5e+3,"y":[{"z":"}"}]}`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`,
	`[[[[[[[["deep"]]]]]]]]`,
	`{"a":"\\\\","b":"\\\\\""}`,
	// Not JSON, each in one way.
	``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `{"a":1 "b":2}`, `[1 2]`, `[}`, `{]`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `-01`, `0x1`, `1.5e3.2`, `tru`, `nul`, `falsey`, `True`,
	`"a`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", "\"\x00\"", `{} {}`, `[] x`, `"\`, `{"a":1}}`, `[[]`,
	"\"\xff\xfe\"", // not UTF-8: valid for encoding/json, as for gjson
}

// FuzzDocument: a document is valid exactly when encoding/json says so,
// and then walks the same with document as with gjson.
func FuzzDocument(f *testing.F) {
	for _, s := range documentSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		equalWalks(t, data)
	})
}

// Strings with a quote, escape, control byte or other byte at every offset
// of their first 24.
func TestDocumentStringsAtEveryOffset(t *testing.T) {
	for _, b := range []string{`\"`, `\\`, `\u00e9`, `\u00g9`, `\x`, "\x00", "\x01", "\x1f", " ", "\x7f", "\x80", "\xff", `"`, "!", "#", "[", "]", "\u00e9"} {
		for n := 0; n < 24; n++ {
			for k := 0; k <= n; k++ {
				s := `"` + strings.Repeat("a", k) + b + strings.Repeat("b", n-k) + `"`
				doc := `{"routes":[{"host":"h","instances":[{"id":` + s + `}]}]}`
				equalWalks(t, s)
				equalWalks(t, doc)
				equalWalks(t, s[:len(s)-1]) // unterminated
				plainReadsAsGJSON(t, `[{"id":`+s+`}]`)
			}
		}
	}
}

// plainReadsAsGJSON: the plain scanner reads the id of a one-instance
// array as gjson does, or gives up exactly when the id holds an escape.
func plainReadsAsGJSON(t *testing.T, array string) {
	t.Helper()
	if !json.Valid([]byte(array)) {
		return
	}
	want := gjson.Get(array, "0.id")
	p := plainScanner{s: array}
	if !p.nextObject() {
		t.Fatalf("%q: no object", array)
	}
	key, v, ok := p.nextMember()
	escaped := strings.Contains(want.Raw, `\`)
	switch {
	case escaped && (ok || !p.notPlain):
		t.Fatalf("%q: read an escaped string as plain: %q", array, v.Str)
	case !escaped && (!ok || key != "id" || v.Str != want.Str || v.Raw != want.Raw):
		t.Fatalf("%q: read %q %q (%v), gjson reads %q", array, key, v.Raw, ok, want.Raw)
	}
}
