package consent

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/language"
)

// TestPluralMessages: TN picks the plural form of the page language, in
// Spanish and English, for one, three and (Spanish "many") a million.
func TestPluralMessages(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	es, en := cat.localizer(language.Spanish), cat.localizer(language.English)
	for _, c := range []struct {
		loc   localizer
		id    string
		count int
		want  string
	}{
		{es, "connections_revoked", 1, "Se revocó 1 conexión."},
		{es, "connections_revoked", 3, "Se revocaron 3 conexiones."},
		{es, "connections_revoked", 1000000, "Se revocaron 1000000 conexiones."},
		{en, "connections_revoked", 1, "1 connection was revoked."},
		{en, "connections_revoked", 3, "3 connections were revoked."},
		{es, "connections_count", 1, "1 conexión"},
		{es, "connections_count", 3, "3 conexiones"},
		{en, "connections_count", 1, "1 connection"},
		{en, "connections_count", 3, "3 connections"},
		{es, "consent_summary", 1, "En resumen, pide 1 permiso:"},
		{en, "consent_summary", 17, "In short, it asks for 17 permissions:"},
	} {
		if got := c.loc.TN(c.id, c.count); got != c.want {
			t.Errorf("%s TN(%s, %d) = %q, want %q", c.loc.lang, c.id, c.count, got, c.want)
		}
	}
}

// TestCountMessagesArePlural: every message that counts ({{.Count}})
// has plural forms, in every catalogue, with the forms the language
// needs; a flat one would read "1 conexiones".
func TestCountMessagesArePlural(t *testing.T) {
	files, err := fs.Glob(localeFiles, "locales/*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := fs.ReadFile(localeFiles, f)
		if err != nil {
			t.Fatal(err)
		}
		var msgs map[string]any
		if err := json.Unmarshal(raw, &msgs); err != nil {
			t.Fatal(err)
		}
		for id, m := range msgs {
			switch v := m.(type) {
			case string:
				if strings.Contains(v, "{{.Count}}") {
					t.Errorf("%s: %s counts but has no plural forms", f, id)
				}
			case map[string]any:
				if v["one"] == nil || v["other"] == nil {
					t.Errorf("%s: %s lacks the one or other form", f, id)
				}
			}
		}
	}
}

// TestLocalTimeText: the fallback date in each language.
func TestLocalTimeText(t *testing.T) {
	b, err := newBundle()
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalogue(b)
	// 21:42 in Chile is the next day in UTC: the fallback says UTC.
	at := time.Date(2026, 12, 1, 21, 42, 30, 0, time.FixedZone("CLT", -3*3600))
	for _, c := range []struct {
		lang language.Tag
		want string
	}{
		{language.Spanish, "2 de diciembre de 2026, 00:42 UTC"},
		{language.English, "December 2, 2026, 00:42 UTC"},
	} {
		got := cat.localizer(c.lang).localTime(at)
		if got.Text != c.want || got.UTC != "2026-12-02T00:42:30Z" {
			t.Errorf("%s: %+v, want %q", c.lang, got, c.want)
		}
	}
	if !cat.localizer(language.Spanish).localTime(time.Time{}).IsZero() {
		t.Error("a zero time is not zero")
	}
}
