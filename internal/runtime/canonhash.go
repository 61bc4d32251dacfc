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
// (~0.5 ms for libcontainer's Seccomp here, on the plan's path); this walks the value once,
// into one buffer (a write to the hash per value cost as much again).
func canonHash(h hash.Hash, v reflect.Value) error {
	b, err := canonAppend(make([]byte, 0, 16<<10), v)
	if err != nil {
		return err
	}
	h.Write(b)
	return nil
}

func canonPut(b []byte, kind reflect.Kind, n uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, byte(kind)), n)
}

func canonString(b []byte, s string) []byte {
	return append(canonPut(b, reflect.String, uint64(len(s))), s...)
}

// canonAppend appends v's canonical bytes (canonHash) to b.
func canonAppend(b []byte, v reflect.Value) ([]byte, error) {
	var err error
	switch v.Kind() {
	case reflect.Invalid:
		b = canonPut(b, reflect.Invalid, 0)
	case reflect.Bool:
		n := uint64(0)
		if v.Bool() {
			n = 1
		}
		b = canonPut(b, reflect.Bool, n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b = canonPut(b, reflect.Int64, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b = canonPut(b, reflect.Uint64, v.Uint())
	case reflect.Float32, reflect.Float64:
		b = canonPut(b, reflect.Float64, math.Float64bits(v.Float()))
	case reflect.String:
		b = canonString(b, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return canonPut(b, v.Kind(), 0), nil
		}
		b = canonPut(b, v.Kind(), 1)
		if v.Kind() == reflect.Interface {
			b = canonString(b, v.Elem().Type().String())
		}
		return canonAppend(b, v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return canonPut(b, reflect.Slice, 0), nil
		}
		b = canonPut(b, reflect.Array, uint64(v.Len()))
		for i := range v.Len() {
			if b, err = canonAppend(b, v.Index(i)); err != nil {
				return nil, err
			}
		}
	case reflect.Map:
		if v.IsNil() {
			return canonPut(b, reflect.Map, 0), nil
		}
		b = canonPut(b, reflect.Map, uint64(v.Len())+1)
		keys := v.MapKeys()
		names := make([]string, len(keys))
		for i, k := range keys {
			names[i] = fmt.Sprint(k.Interface())
		}
		order := make([]int, len(keys))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(x, y int) int { return strings.Compare(names[x], names[y]) })
		for _, i := range order {
			if b, err = canonAppend(b, keys[i]); err != nil {
				return nil, err
			}
			if b, err = canonAppend(b, v.MapIndex(keys[i])); err != nil {
				return nil, err
			}
		}
	case reflect.Struct:
		t := v.Type()
		b = canonPut(b, reflect.Struct, uint64(t.NumField()))
		for i := range t.NumField() {
			b = canonString(b, t.Field(i).Name)
			if b, err = canonAppend(b, v.Field(i)); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("canonical hash: cannot hash a %s", v.Type())
	}
	return b, nil
}
