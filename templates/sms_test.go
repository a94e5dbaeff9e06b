package templates

import (
	"strings"
	"testing"
)

func TestCountSMS(t *testing.T) {
	tests := []struct {
		name string
		text string
		want SMSCount
	}{
		{"empty", "", SMSCount{GSM7, 0, 0}},
		{"one GSM segment", strings.Repeat("a", 160), SMSCount{GSM7, 160, 1}},
		{"two GSM segments", strings.Repeat("a", 161), SMSCount{GSM7, 161, 2}},
		{"two full GSM segments", strings.Repeat("a", 306), SMSCount{GSM7, 306, 2}},
		{"three GSM segments", strings.Repeat("a", 307), SMSCount{GSM7, 307, 3}},
		{"Spanish in GSM: é ñ ¿ ¡ ü", "¿Señor Müller? ¡Café!", SMSCount{GSM7, 21, 1}},
		{"extension characters take two septets", "{}[]~|^€\\", SMSCount{GSM7, 18, 1}},
		{"form feed is an extension character", "a\fb", SMSCount{GSM7, 4, 1}},
		{"159 septets and an extension character", strings.Repeat("a", 159) + "€", SMSCount{GSM7, 161, 2}},
		// 152 septets leave one in the first segment: the € does not fit
		// and goes whole to the second, with the rest.
		{"an extension character is not split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 152), SMSCount{GSM7, 306, 3}},
		{"á is not GSM-7", "Está", SMSCount{UCS2, 4, 1}},
		{"ç is not GSM-7 (Ç is)", "ç", SMSCount{UCS2, 1, 1}},
		{"one UCS-2 segment", strings.Repeat("ó", 70), SMSCount{UCS2, 70, 1}},
		{"two UCS-2 segments", strings.Repeat("ó", 71), SMSCount{UCS2, 71, 2}},
		{"two full UCS-2 segments", strings.Repeat("ó", 134), SMSCount{UCS2, 134, 2}},
		{"three UCS-2 segments", strings.Repeat("ó", 135), SMSCount{UCS2, 135, 3}},
		{"an emoji is two units", "😊", SMSCount{UCS2, 2, 1}},
		{"35 emoji fill one segment", strings.Repeat("😊", 35), SMSCount{UCS2, 70, 1}},
		// 66 units leave one in the first segment: the emoji moves whole.
		{"a surrogate pair is not split", strings.Repeat("ó", 66) + "😊" + strings.Repeat("ó", 66), SMSCount{UCS2, 134, 3}},
		{"GSM text with one emoji is UCS-2", strings.Repeat("a", 100) + "👍", SMSCount{UCS2, 102, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CountSMS(tt.text); got != tt.want {
				t.Errorf("CountSMS = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestGSMSeptets(t *testing.T) {
	for r, want := range map[rune]int{'a': 1, '@': 1, 'Ñ': 1, '\n': 1, '€': 2, '{': 2, 'á': 0, '😊': 0, '\x1b': 0} {
		if got := GSMSeptets(r); got != want {
			t.Errorf("GSMSeptets(%q) = %d, want %d", r, got, want)
		}
	}
}
