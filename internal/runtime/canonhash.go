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
// into a buffer that goes to h whenever it holds canonChunk bytes (a write to the hash per value
// cost as much again; one buffer for the whole walk grew to ~150 KB of fresh pages, for Docker's
// profile, each page a fault).
func canonHash(h hash.Hash, v reflect.Value) error {
	w := canonWriter{h: h, b: make([]byte, 0, canonChunk+1024)}
	if err := w.append(v); err != nil {
		return err
	}
	h.Write(w.b)
	return nil
}

const canonChunk = 8 << 10

type canonWriter struct {
	h hash.Hash
	b []byte
}

func canonPut(b []byte, kind reflect.Kind, n uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, byte(kind)), n)
}

func canonString(b []byte, s string) []byte {
	return append(canonPut(b, reflect.String, uint64(len(s))), s...)
}

// append writes v's canonical bytes (canonHash).
func (w *canonWriter) append(v reflect.Value) error {
	if len(w.b) >= canonChunk {
		w.h.Write(w.b)
		w.b = w.b[:0]
	}
	switch v.Kind() {
	case reflect.Invalid:
		w.b = canonPut(w.b, reflect.Invalid, 0)
	case reflect.Bool:
		n := uint64(0)
		if v.Bool() {
			n = 1
		}
		w.b = canonPut(w.b, reflect.Bool, n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.b = canonPut(w.b, reflect.Int64, uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.b = canonPut(w.b, reflect.Uint64, v.Uint())
	case reflect.Float32, reflect.Float64:
		w.b = canonPut(w.b, reflect.Float64, math.Float64bits(v.Float()))
	case reflect.String:
		w.b = canonString(w.b, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			w.b = canonPut(w.b, v.Kind(), 0)
			return nil
		}
		w.b = canonPut(w.b, v.Kind(), 1)
		if v.Kind() == reflect.Interface {
			w.b = canonString(w.b, v.Elem().Type().String())
		}
		return w.append(v.Elem())
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			w.b = canonPut(w.b, reflect.Slice, 0)
			return nil
		}
		w.b = canonPut(w.b, reflect.Array, uint64(v.Len()))
		for i := range v.Len() {
			if err := w.append(v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if v.IsNil() {
			w.b = canonPut(w.b, reflect.Map, 0)
			return nil
		}
		w.b = canonPut(w.b, reflect.Map, uint64(v.Len())+1)
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
			if err := w.append(keys[i]); err != nil {
				return err
			}
			if err := w.append(v.MapIndex(keys[i])); err != nil {
				return err
			}
		}
	case reflect.Struct:
		t := v.Type()
		w.b = canonPut(w.b, reflect.Struct, uint64(t.NumField()))
		for i := range t.NumField() {
			w.b = canonString(w.b, t.Field(i).Name)
			if err := w.append(v.Field(i)); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("canonical hash: cannot hash a %s", v.Type())
	}
	return nil
}
