// Package hostmeta reads one string out of an Envoy endpoint's metadata as
// the proxy-wasm property xds.upstream_host_metadata returns it: a serialized
// envoy.config.core.v3.Metadata protobuf. It is a small protobuf wire-format
// reader for exactly the path
//
//	Metadata.filter_metadata[namespace]  (field 1: map<string, google.protobuf.Struct>)
//	  Struct.fields[key]                 (field 1: map<string, google.protobuf.Value>)
//	    Value.string_value               (field 3: string)
//
// so that the module needs no protobuf library. It never panics, reads every
// byte at most a fixed number of times (no recursion: the three levels are
// three loops), and allocates only the returned string.
package hostmeta

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireLen     = 2
	wireFixed32 = 5
)

// valueKinds are the wire types of google.protobuf.Value's oneof fields
// 1 to 6: null_value, number_value, string_value, bool_value, struct_value,
// list_value.
var valueKinds = [...]int{-1, wireVarint, wireFixed64, wireLen, wireVarint, wireLen, wireLen}

// StringValue returns filter_metadata[namespace].fields[key].string_value.
// ok is false when the path does not exist, the value is not a string, or
// the input is not well-formed protobuf along the way. As protobuf does, a
// map key that repeats takes the last entry's value.
func StringValue(md []byte, namespace, key string) (string, bool) {
	st, ok := mapValue(md, namespace)
	if !ok {
		return "", false
	}
	val, ok := mapValue(st, key)
	if !ok {
		return "", false
	}
	// A Value is a oneof: the last kind on the wire wins.
	var s []byte
	isString := false
	err := fields(val, func(num uint64, typ int, b []byte) bool {
		// A field of the oneof with its own wire type sets the kind; with
		// another wire type protobuf keeps it as an unknown field.
		if num < uint64(len(valueKinds)) && valueKinds[num] == typ {
			isString = num == 3
			if isString {
				s = b
			}
		}
		return true
	})
	if err || !isString {
		return "", false
	}
	return string(s), true
}

// mapValue finds the value (field 2, length-delimited) of the entry of the
// map in field 1 of msg whose key (field 1 of the entry) is key; the last
// such entry wins. Both Metadata.filter_metadata and Struct.fields are
// field-1 maps with string keys and message values.
func mapValue(msg []byte, key string) ([]byte, bool) {
	var found []byte
	ok := false
	bad := fields(msg, func(num uint64, typ int, entry []byte) bool {
		if num != 1 || typ != wireLen {
			return true
		}
		var k, v []byte
		if fields(entry, func(n uint64, t int, b []byte) bool {
			if t == wireLen {
				switch n {
				case 1:
					k = b
				case 2:
					v = b
				}
			}
			return true
		}) {
			return false
		}
		if string(k) == key {
			found, ok = v, true
		}
		return true
	})
	if bad {
		return nil, false
	}
	if found == nil {
		found = []byte{} // an entry without a value: an empty message
	}
	return found, ok
}

// fields walks the fields of one message, calling each with the field number,
// wire type and, for a length-delimited field, its bytes. It reports true if
// the message is malformed (or each asked to stop).
func fields(msg []byte, each func(num uint64, typ int, b []byte) bool) (malformed bool) {
	for len(msg) > 0 {
		tag, n := varint(msg)
		if n == 0 {
			return true
		}
		msg = msg[n:]
		num, typ := tag>>3, int(tag&7)
		if num == 0 {
			return true
		}
		var b []byte
		switch typ {
		case wireVarint:
			_, n = varint(msg)
			if n == 0 {
				return true
			}
			msg = msg[n:]
		case wireFixed64:
			if len(msg) < 8 {
				return true
			}
			msg = msg[8:]
		case wireFixed32:
			if len(msg) < 4 {
				return true
			}
			msg = msg[4:]
		case wireLen:
			l, n := varint(msg)
			if n == 0 || l > uint64(len(msg)-n) {
				return true
			}
			b = msg[n : n+int(l)]
			msg = msg[n+int(l):]
		default: // groups (deprecated) and invalid wire types
			return true
		}
		if !each(num, typ, b) {
			return true
		}
	}
	return false
}

// varint decodes a base-128 varint; n is 0 if it is truncated or longer
// than 10 bytes.
func varint(b []byte) (v uint64, n int) {
	for i := 0; i < len(b) && i < 10; i++ {
		c := b[i]
		if i == 9 && c > 1 {
			return 0, 0 // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
