package consent

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed locales/*.json
var localeFiles embed.FS

// Languages the pages are written in; the first is the default.
var languages = []language.Tag{language.Spanish, language.English}

func newBundle() (*i18n.Bundle, error) {
	b := i18n.NewBundle(languages[0])
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	// Files are named [topic.]<lang>.json; go-i18n reads the language from
	// the name.
	files, err := fs.Glob(localeFiles, "locales/*.json")
	if err != nil {
		return nil, fmt.Errorf("list message catalogues: %w", err)
	}
	for _, f := range files {
		if _, err := b.LoadMessageFileFS(localeFiles, f); err != nil {
			return nil, fmt.Errorf("load %s: %w", f, err)
		}
	}
	return b, nil
}

// langCookie remembers a language picked with the switcher.
const langCookie = "enlace_lang"

// catalogue is the pages' languages, ready for requests: the matcher and a
// localizer per language are built once, since building them is most of
// what a page's translation costs (both are read-only afterwards, so
// requests share them).
type catalogue struct {
	matcher    language.Matcher
	localizers map[language.Tag]localizer
}

func newCatalogue(b *i18n.Bundle) *catalogue {
	c := &catalogue{matcher: language.NewMatcher(languages), localizers: map[language.Tag]localizer{}}
	for _, l := range languages {
		c.localizers[l] = localizer{l: i18n.NewLocalizer(b, l.String()), lang: l}
	}
	return c
}

// localizer returns the localizer of one of the pages' languages.
func (c *catalogue) localizer(l language.Tag) localizer {
	if loc, ok := c.localizers[l]; ok {
		return loc
	}
	return c.localizers[languages[0]]
}

// pick chooses the page language: an explicit ?lang= first, then the
// language picked earlier (a cookie), then Accept-Language, then Spanish.
func (c *catalogue) pick(r *http.Request) language.Tag {
	picked := ""
	if c, err := r.Cookie(langCookie); err == nil {
		picked = c.Value
	}
	tag, _ := language.MatchStrings(c.matcher, r.URL.Query().Get("lang"), picked, r.Header.Get("Accept-Language"))
	base, _ := tag.Base()
	for _, l := range languages {
		if b, _ := l.Base(); b == base {
			return l
		}
	}
	return languages[0]
}

// langLink is one entry of the language switcher.
type langLink struct {
	Lang    string
	Name    string
	URL     string
	Current bool
}

// langLinks are the switcher's links: this page in each language.
func (k *Kit) langLinks(r *http.Request, current language.Tag) []langLink {
	out := make([]langLink, 0, len(languages))
	for _, l := range languages {
		u := *r.URL
		q := u.Query()
		if r.Method != http.MethodGet {
			// A page answering a post: switch on the page's own address.
			q = url.Values{}
		}
		q.Set("lang", l.String())
		u.RawQuery = q.Encode()
		name := k.i18n.localizer(l).T("lang_name")
		out = append(out, langLink{Lang: l.String(), Name: name, URL: u.RequestURI(), Current: l == current})
	}
	return out
}

// localizer translates message ids for one request.
type localizer struct {
	l    *i18n.Localizer
	lang language.Tag
}

// T returns the message id in the page language; kv are template data as
// key, value pairs. A missing message shows its id, which tests catch.
func (l localizer) T(id string, kv ...string) string {
	s, err := l.l.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: templateData(kv, 0)})
	if err != nil {
		return id
	}
	return s
}

// TAround is T for a message whose argument key the page marks up (a
// date that must not break across lines): the message's text before the
// argument and after it.
func (l localizer) TAround(id, key string) [2]string {
	const mark = "\x00"
	before, after, _ := strings.Cut(l.T(id, key, mark), mark)
	return [2]string{before, after}
}

// TN is T for a message about count things: the message's plural form
// (one, other, and the language's others, e.g. Spanish "many") is the
// one the page language uses for count, and the template data has
// {{.Count}} besides kv. Templates call it with an int.
func (l localizer) TN(id string, count int, kv ...string) string {
	data := templateData(kv, 1)
	data["Count"] = strconv.Itoa(count)
	s, err := l.l.Localize(&i18n.LocalizeConfig{MessageID: id, PluralCount: count, TemplateData: data})
	if err != nil {
		return id
	}
	return s
}

// templateData turns key, value pairs into a message's template data, with
// room for extra more entries.
func templateData(kv []string, extra int) map[string]string {
	if len(kv) == 0 && extra == 0 {
		return nil
	}
	data := make(map[string]string, len(kv)/2+extra)
	for i := 0; i+1 < len(kv); i += 2 {
		data[kv[i]] = kv[i+1]
	}
	return data
}
