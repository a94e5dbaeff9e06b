package nlu

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"
)

// TestNetwork trains the toy bot with the network, which Train adds by
// itself only for large data sets.
func TestNetwork(t *testing.T) {
	train := func(workers int) *Model {
		m, err := Train(context.Background(), toy, Options{Seed: 3, Workers: workers, network: 1})
		if err != nil {
			t.Fatal(err)
		}
		if m.net == nil {
			t.Fatal("no network")
		}
		return m
	}
	a, b := train(1), train(3)
	ab, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if !bytes.Equal(ab, bb) {
		t.Fatal("the network depends on the number of workers")
	}
	right := 0
	for _, e := range toy {
		if a.Classify(e.Text).Ranking[0].Intent == e.Intent {
			right++
		}
	}
	if right < len(toy)*9/10 {
		t.Errorf("%d of %d training examples classified right", right, len(toy))
	}
	l, err := Load(ab)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hola", "my card was stolen", "quiero pagar", "xyz", "", "🙂"} {
		if got, want := l.Classify(text), a.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) after Load = %+v, before %+v", text, got, want)
		}
	}
	if again, _ := l.MarshalBinary(); !bytes.Equal(again, ab) {
		t.Error("a loaded model marshals to other bytes")
	}
	// Corrupt bytes, with a valid checksum so that the checks of the
	// network's size and numbers are what rejects them.
	resum := func(c []byte) []byte {
		binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.Checksum(c[:len(c)-4], castagnoli))
		return c
	}
	bias := len(ab) - 4 - 4*len(a.intents) - 4 // the last intent's output bias
	nan := bytes.Clone(ab)
	binary.LittleEndian.PutUint32(nan[bias:], 0x7fc00000)
	cases := map[string][]byte{
		"cut in the network": resum(append(bytes.Clone(ab[:len(ab)-8]), 0, 0, 0, 0)),
		"extra byte":         resum(append(bytes.Clone(ab[:len(ab)-4]), 0, 0, 0, 0, 0)),
		"NaN":                resum(nan),
		"truncated":          ab[:len(ab)-100],
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if m, err := Load(c); err == nil || m != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load of corrupt bytes: %v", err)
			}
		})
	}
}

// TestLoadVersion1 loads a model in the format without a network.
func TestLoadVersion1(t *testing.T) {
	m := trainedToy(t)
	if m.net != nil {
		t.Fatal("the toy bot has a network")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 lacks the network's count (0) before the checksum.
	v1 := bytes.Clone(b[:len(b)-8])
	binary.LittleEndian.PutUint16(v1[len(magic):], 1)
	v1 = binary.LittleEndian.AppendUint32(v1, crc32.Checksum(v1, castagnoli))
	l, err := Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hola", "my card was stolen", "xyz"} {
		if got, want := l.Classify(text), m.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) of version 1 = %+v, want %+v", text, got, want)
		}
	}
	if _, err := Load(resumWithVersion(b, 1)); err == nil {
		t.Error("Load accepted version 1 bytes with a network count")
	}
}

func resumWithVersion(b []byte, v uint16) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint16(c[len(magic):], v)
	binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.Checksum(c[:len(c)-4], castagnoli))
	return c
}
