package runtime

import (
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"reflect"
	"slices"
	"strings"
)

// canonHash writes v into h as a canonical byte sequence: every field of every struct (its
// name with its value, so that a field added to a type changes the sequence), every element,
// nil apart from empty, maps in key order, each value prefixed by its kind and each string and
// collection by its length, so that no two different values write the same bytes.
//
// It stands for the JSON encoding the seccomp cache was keyed by: encoding/json builds its
// encoders for a type at its first use in a process, by reflection over every field and tag
// (~0.5 ms for libcontainer's Seccomp here, on the plan's path); this walks the value once.
func canonHash(h hash.Hash, v reflect.Value) error {
	var b [9]byte
	put := func(kind reflect.Kind, n uint64) {
		b[0] = byte(kind)
		binary.LittleEndian.PutUint64(b[1:], n)
		h.Write(b[:])
	}
	str := func(s string) {
		put(reflect.String, uint64(len(s)))
		h.Write([]byte(s))
	}
	switch v.Kind() {
	case reflect.Invalid:
		put(reflect.Invalid, 0)
	case reflect.Bool:
		n := uint64(0)
		if v.Bool() {
			n = 1
		}
		put(reflect.Bool, n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		put(reflect.Int64, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		put(reflect.Uint64, v.Uint())
	case reflect.Float32, reflect.Float64:
		put(reflect.Float64, math.Float64bits(v.Float()))
	case reflect.String:
		str(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			put(v.Kind(), 0)
			return nil
		}
		put(v.Kind(), 1)
		if v.Kind() == reflect.Interface {
			str(v.Elem().Type().String())
		}
		return canonHash(h, v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			put(reflect.Slice, 0)
			return nil
		}
		put(reflect.Array, uint64(v.Len()))
		for i := range v.Len() {
			if err := canonHash(h, v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() {
			put(reflect.Map, 0)
			return nil
		}
		put(reflect.Map, uint64(v.Len())+1)
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
		for _, i := range order {
			if err := canonHash(h, keys[i]); err != nil {
				return err
			}
			if err := canonHash(h, v.MapIndex(keys[i])); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		put(reflect.Struct, uint64(t.NumField()))
		for i := range t.NumField() {
			str(t.Field(i).Name)
			if err := canonHash(h, v.Field(i)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("canonical hash: cannot hash a %s", v.Type())
	}
	return nil
}
