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
	if m.net != nil || m.unknown != 0 {
		t.Fatal("the toy bot has a network or an unknown-word penalty")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 lacks the penalty for unknown words and the network's
	// count (0) before the checksum.
	v1 := downgrade(b, 1)
	l, err := Load(v1)
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hola", "my card was stolen", "xyz"} {
		if got, want := l.Classify(text), m.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) of version 1 = %+v, want %+v", text, got, want)
		}
	}
	if _, err := Load(resumWithVersion(downgrade(b, 2), 1)); err == nil {
		t.Error("Load accepted version 1 bytes with a network count")
	}
	if _, err := Load(resumWithVersion(b, 2)); err == nil {
		t.Error("Load accepted version 2 bytes with an unknown-word penalty")
	}
}

// TestLoadVersion2 loads a model with a network in the format without the
// penalty for unknown words.
func TestLoadVersion2(t *testing.T) {
	m, err := Train(context.Background(), toy, Options{Seed: 3, network: 1})
	if err != nil {
		t.Fatal(err)
	}
	if m.net == nil || m.unknown != 0 {
		t.Fatal("want a network and no unknown-word penalty")
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := Load(downgrade(b, 2))
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"hola", "my card was stolen", "xyz"} {
		if got, want := l.Classify(text), m.Classify(text); !equalPredictions(got, want) {
			t.Errorf("Classify(%q) of version 2 = %+v, want %+v", text, got, want)
		}
	}
	if again, _ := l.MarshalBinary(); !bytes.Equal(again, b) {
		t.Error("a model loaded from version 2 marshals to other bytes")
	}
}

// TestUnknownWords checks the penalty for unknown words: it lowers the
// confidence of a text with words the model does not know, and survives
// MarshalBinary and Load.
func TestUnknownWords(t *testing.T) {
	m, err := Train(context.Background(), toy, Options{Seed: 3, unknown: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.unknown != 2 {
		t.Fatalf("unknown = %v, want 2", m.unknown)
	}
	plain := *m
	plain.unknown = 0
	const text = "my card was stolen zorblax quuxify"
	if got, want := m.Classify(text).Confidence, plain.Classify(text).Confidence; !(got < want) {
		t.Errorf("confidence with the penalty %v, without %v", got, want)
	}
	b, _ := m.MarshalBinary()
	l, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.Classify(text), m.Classify(text); !equalPredictions(got, want) {
		t.Errorf("Classify after Load = %+v, before %+v", got, want)
	}
}

// unknownAt is where the penalty for unknown words starts in versions 3
// and 4:
// after the magic, the version, four bytes and four float64.
const unknownAt = len(magic) + 2 + 4 + 4*8

// downgrade returns the bytes of a version 3 or 4 model without stems and
// without an unknown-word penalty in version 2 (no penalty) or 1 (nor the network's count, which
// must be 0).
func downgrade(b []byte, v uint16) []byte {
	c := append(bytes.Clone(b[:unknownAt]), b[unknownAt+8:len(b)-4]...)
	if v == 1 {
		c = c[:len(c)-4]
	}
	binary.LittleEndian.PutUint16(c[len(magic):], v)
	return binary.LittleEndian.AppendUint32(c, crc32.Checksum(c, castagnoli))
}

func resumWithVersion(b []byte, v uint16) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint16(c[len(magic):], v)
	binary.LittleEndian.PutUint32(c[len(c)-4:], crc32.Checksum(c[:len(c)-4], castagnoli))
	return c
}
