package entity_test

import (
	"testing"

	"conversa/bot/entity"
)

func FuzzExtract(f *testing.F) {
	for _, tt := range builtinCases {
		f.Add(tt.text, tt.lang)
	}
	f.Add("vivo en la capital, PED-12345, #AB123", "es")
	f.Add("\xff\xfe\xc3", "")
	f.Add("e\u0301\u0301\u0301 1\u0301.2\u0301", "en")
	x, err := entity.New(entity.Options{
		Lists: []entity.List{{Name: "city", Values: []entity.ListValue{
			{Value: "Bogotá", Synonyms: []string{"bogota", "bta", "la capital"}},
			{Value: "S.A.S.", Synonyms: []string{"sas"}},
		}}},
		Regexes:  []entity.Regex{{Name: "order", Pattern: `(?i)PED-(?P<order>\d*)`}, {Name: "ticket", Pattern: `#[A-Z]{2}\d{3}|`}},
		Location: bogota(),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, lang string) {
		checkInvariants(t, text, x.Extract(text, lang, now))
	})
}
