package hostmeta

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"
)

// metadataDesc is envoy.config.core.v3.Metadata's filter_metadata (field 1,
// map<string, google.protobuf.Struct>), built at run time so that the test
// checks the reader against the real protobuf library without Envoy's protos.
var metadataDesc = func() protoreflect.MessageDescriptor {
	s := proto.String
	label, typ := descriptorpb.FieldDescriptorProto_LABEL_REPEATED, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	str, opt := descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	fd := &descriptorpb.FileDescriptorProto{
		Name: s("test/metadata.proto"), Package: s("envoy.config.core.v3"), Syntax: s("proto3"),
		Dependency: []string{"google/protobuf/struct.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: s("Metadata"),
			Field: []*descriptorpb.FieldDescriptorProto{{Name: s("filter_metadata"), Number: proto.Int32(1), Label: &label,
				Type: &typ, TypeName: s(".envoy.config.core.v3.Metadata.FilterMetadataEntry"), JsonName: s("filterMetadata")}},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name:    s("FilterMetadataEntry"),
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: s("key"), Number: proto.Int32(1), Label: &opt, Type: &str, JsonName: s("key")},
					{Name: s("value"), Number: proto.Int32(2), Label: &opt, Type: &typ, TypeName: s(".google.protobuf.Struct"), JsonName: s("value")},
				},
			}},
		}},
	}
	files, err := protodesc.NewFiles(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(structpb.File_google_protobuf_struct_proto), fd}})
	if err != nil {
		panic(err)
	}
	d, err := files.FindDescriptorByName("envoy.config.core.v3.Metadata")
	if err != nil {
		panic(err)
	}
	return d.(protoreflect.MessageDescriptor)
}()

// marshalMetadata serializes filter_metadata as Envoy does.
func marshalMetadata(t testing.TB, md map[string]map[string]any) []byte {
	t.Helper()
	m := dynamicpb.NewMessage(metadataDesc)
	fm := m.Mutable(metadataDesc.Fields().ByNumber(1)).Map()
	for ns, fields := range md {
		st, err := structpb.NewStruct(fields)
		require.NoError(t, err)
		fm.Set(protoreflect.ValueOfString(ns).MapKey(), protoreflect.ValueOfMessage(st.ProtoReflect()))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	require.NoError(t, err)
	return b
}

// oracle reads the same path with the protobuf library; ok is false when
// the bytes do not parse or the path holds no string. The library's dynamic
// map decoding panics on some malformed map entries (a map key of the wrong
// wire type, found by FuzzStringValue): then it has no verdict (parsed false).
func oracle(b []byte, ns, key string) (value string, ok, parsed bool) {
	defer func() {
		if recover() != nil {
			value, ok, parsed = "", false, false
		}
	}()
	m := dynamicpb.NewMessage(metadataDesc)
	if err := proto.Unmarshal(b, m); err != nil {
		return "", false, false
	}
	fm := m.Get(metadataDesc.Fields().ByNumber(1)).Map()
	v := fm.Get(protoreflect.ValueOfString(ns).MapKey())
	if !v.IsValid() {
		return "", false, true
	}
	st := &structpb.Struct{}
	raw, err := proto.Marshal(v.Message().Interface())
	if err != nil || proto.Unmarshal(raw, st) != nil {
		return "", false, true
	}
	f, ok := st.Fields[key]
	if !ok {
		return "", false, true
	}
	s, isString := f.Kind.(*structpb.Value_StringValue)
	if !isString {
		return "", false, true
	}
	return s.StringValue, true, true
}

func TestStringValue(t *testing.T) {
	md := marshalMetadata(t, map[string]map[string]any{
		"envoy.lb":    {"canary": true},
		"vcap_sticky": {"instance_id": "pod-7f9c", "weight": 3.0, "tags": []any{"a"}, "nested": map[string]any{"instance_id": "no"}},
		"other":       {"instance_id": "wrong-namespace"},
	})
	for _, tc := range []struct {
		ns, key, want string
		ok            bool
	}{
		{"vcap_sticky", "instance_id", "pod-7f9c", true},
		{"other", "instance_id", "wrong-namespace", true},
		{"vcap_sticky", "weight", "", false},
		{"vcap_sticky", "tags", "", false},
		{"vcap_sticky", "nested", "", false},
		{"vcap_sticky", "missing", "", false},
		{"missing", "instance_id", "", false},
		{"envoy.lb", "canary", "", false},
	} {
		got, ok := StringValue(md, tc.ns, tc.key)
		assert.Equal(t, tc.ok, ok, "%s/%s", tc.ns, tc.key)
		assert.Equal(t, tc.want, got, "%s/%s", tc.ns, tc.key)
	}
	for _, b := range [][]byte{nil, {}, {0x0a}, {0x0a, 0x05, 0x0a}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		md[:len(md)-1], append(append([]byte{}, md...), 0x0b)} {
		_, ok := StringValue(b, "vcap_sticky", "instance_id")
		assert.False(t, ok, "%x", b)
	}
}

func TestStringValueAllocations(t *testing.T) {
	md := marshalMetadata(t, map[string]map[string]any{"vcap_sticky": {"instance_id": "pod-7f9c", "zone": "z1"}})
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := StringValue(md, "vcap_sticky", "instance_id"); !ok {
			t.Fatal("not found")
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "only the returned string")
}

// FuzzStringValue: on any bytes the reader never panics, and whenever the
// protobuf library parses them, the reader agrees with it on the value, or
// refuses input the library accepts only through a deprecated group field.
func FuzzStringValue(f *testing.F) {
	f.Add(marshalMetadata(f, map[string]map[string]any{"vcap_sticky": {"instance_id": "a"}}), "vcap_sticky", "instance_id")
	f.Add(marshalMetadata(f, map[string]map[string]any{"ns": {"k": 1.5, "s": "v"}, "x": {}}), "ns", "s")
	f.Add([]byte{0x0a, 0x00}, "", "")
	f.Fuzz(func(t *testing.T, b []byte, ns, key string) {
		got, ok := StringValue(b, ns, key)
		want, wantOK, parsed := oracle(b, ns, key)
		if !parsed {
			return
		}
		if ok && (!wantOK || got != want) {
			t.Fatalf("StringValue(%x, %q, %q) = %q; protobuf: %q, %v", b, ns, key, got, want, wantOK)
		}
		if !ok && wantOK && !hasGroup(b) {
			t.Fatalf("StringValue(%x, %q, %q) found nothing; protobuf: %q", b, ns, key, want)
		}
	})
}

// FuzzWellFormed: metadata serialized by the protobuf library always reads back.
func FuzzWellFormed(f *testing.F) {
	f.Add("vcap_sticky", "instance_id", "pod-1", "other", "x")
	f.Fuzz(func(t *testing.T, ns, key, val, ns2, key2 string) {
		for _, s := range []string{ns, key, val, ns2, key2} {
			if !utf8.ValidString(s) {
				return
			}
		}
		if ns2+"~" == ns || key2+"~" == key {
			return // a decoy would replace the value in the map itself
		}
		md := marshalMetadata(t, map[string]map[string]any{ns: {key: val, key2 + "~": "decoy"}, ns2 + "~": {key: "decoy"}})
		got, ok := StringValue(md, ns, key)
		if !ok || got != val {
			t.Fatalf("%q/%q: %q, %v; want %q", ns, key, got, ok, val)
		}
		if _, ok := StringValue(md, ns, key+"~"+strings.Repeat("x", 1)); ok && key+"~x" != key2+"~" {
			t.Fatalf("%q/%q~x found", ns, key)
		}
	})
}

// hasGroup reports whether a group field (wire type 3 or 4), which the
// reader refuses and the protobuf library skips, appears in a message the
// reader walks: the Metadata, its filter_metadata entries, their Structs,
// the Structs' field entries and their Values. It parses the wire format
// (protowire), so a byte that merely looks like a group tag inside a string
// does not count and completeness is checked on nearly every input.
func hasGroup(b []byte) bool { return groupIn(b, 0) }

// walkedField is, per level, the field the reader descends into:
// Metadata.filter_metadata (1), entry value (2), Struct.fields (1), entry
// value (2). Level 4 is the Value, a leaf.
var walkedField = [...]protowire.Number{1, 2, 1, 2}

func groupIn(b []byte, level int) bool {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false // malformed: the library refuses it too
		}
		b = b[n:]
		if typ == protowire.StartGroupType || typ == protowire.EndGroupType {
			return true
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false
		}
		if typ == protowire.BytesType && level < len(walkedField) && num == walkedField[level] {
			if v, _ := protowire.ConsumeBytes(b); groupIn(v, level+1) {
				return true
			}
		}
		b = b[m:]
	}
	return false
}

// hasGroup sees group fields by parsing, not by looking at bytes: a value
// full of bytes whose low bits are 3 or 4 has none, a real group tag at a
// level the reader walks is one.
func TestHasGroup(t *testing.T) {
	plain := marshalMetadata(t, map[string]map[string]any{"vcap_sticky": {"instance_id": "\x0b\x0c\x13\x14cdkl"}})
	assert.False(t, hasGroup(plain), "group-like bytes inside a string")
	group := protowire.AppendTag(nil, 9, protowire.StartGroupType)
	group = protowire.AppendTag(group, 9, protowire.EndGroupType)
	assert.True(t, hasGroup(append(append([]byte{}, plain...), group...)), "a group in the Metadata")
	entry := protowire.AppendTag(nil, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "ns")
	entry = append(entry, group...)
	md := protowire.AppendTag(nil, 1, protowire.BytesType)
	md = protowire.AppendBytes(md, entry)
	assert.True(t, hasGroup(md), "a group in a filter_metadata entry")
	_, ok := StringValue(md, "ns", "k")
	assert.False(t, ok)
}
