package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Scope is one entry of the scope catalogue: its name and what it lets an
// app do, in Spanish and English, as the consent page says it.
type Scope struct {
	Name string `yaml:"name" json:"name"`
	ES   string `yaml:"es" json:"es"`
	EN   string `yaml:"en" json:"en"`
	// Resource, when set, binds the scope to a resource type (a
	// ResourceType's Name): a merchant grants it for all of their
	// resources of that type or for chosen ones (issue 17).
	Resource string `yaml:"resource" json:"resource,omitempty"`
}

// Catalogue is the list of scopes apps may be registered for.
type Catalogue []Scope

// UnmarshalText reads a catalogue from JSON, the form it takes in the
// ENLACE_SCOPES environment variable. A key it does not know is refused:
// a misspelt "resource" would otherwise grant a bound scope whole.
func (c *Catalogue) UnmarshalText(b []byte) error {
	var v []Scope
	if err := strictUnmarshal(b, &v); err != nil {
		return fmt.Errorf("scopes: want a JSON list of {name, es, en, resource}: %w", err)
	}
	*c = v
	return nil
}

// Names returns the scope names in catalogue order.
func (c Catalogue) Names() []string {
	out := make([]string, len(c))
	for i, s := range c {
		out[i] = s.Name
	}
	return out
}

// Lookup returns the scope with this name.
func (c Catalogue) Lookup(name string) (Scope, bool) {
	for _, s := range c {
		if s.Name == name {
			return s, true
		}
	}
	return Scope{}, false
}

// BoundTo returns the scopes bound to resource type typ.
func (c Catalogue) BoundTo(typ string) []string {
	var out []string
	for _, s := range c {
		if s.Resource == typ && typ != "" {
			out = append(out, s.Name)
		}
	}
	return out
}

// ResourceOf returns the resource type the scope is bound to, "" for a
// scope granted whole (or one not in the catalogue).
func (c Catalogue) ResourceOf(scope string) string {
	s, _ := c.Lookup(scope)
	return s.Resource
}

// ResourceType is a kind of a merchant's resources (warehouses, sales
// channels, stores) that scopes can be bound to, with its name in Spanish
// and English as merchants read it: ES and EN name several ("Bodegas"),
// ESOne and ENOne one ("Bodega"; optional, the plural stands in).
type ResourceType struct {
	Name  string `yaml:"name" json:"name"`
	ES    string `yaml:"es" json:"es"`
	EN    string `yaml:"en" json:"en"`
	ESOne string `yaml:"es_one" json:"es_one,omitempty"`
	ENOne string `yaml:"en_one" json:"en_one,omitempty"`
}

// Label names the type in lang ("en" for English, Spanish otherwise) for
// count resources: the singular for one, when configured.
func (t ResourceType) Label(lang string, count int) string {
	many, one := t.ES, t.ESOne
	if lang == "en" {
		many, one = t.EN, t.ENOne
	}
	if count == 1 && one != "" {
		return one
	}
	return many
}

// ResourceTypes are the configured resource types, in the order pages
// list them.
type ResourceTypes []ResourceType

// UnmarshalText reads the types from JSON, their form in the
// ENLACE_RESOURCE_TYPES environment variable; unknown keys are refused.
func (t *ResourceTypes) UnmarshalText(b []byte) error {
	var v []ResourceType
	if err := strictUnmarshal(b, &v); err != nil {
		return fmt.Errorf("resource types: want a JSON list of {name, es, en, es_one, en_one}: %w", err)
	}
	*t = v
	return nil
}

// Names returns the type names in configured order.
func (t ResourceTypes) Names() []string {
	out := make([]string, len(t))
	for i, r := range t {
		out[i] = r.Name
	}
	return out
}

// Lookup returns the type with this name.
func (t ResourceTypes) Lookup(name string) (ResourceType, bool) {
	for _, r := range t {
		if r.Name == name {
			return r, true
		}
	}
	return ResourceType{}, false
}

// MaxResourceTypeName bounds a resource type's name.
const MaxResourceTypeName = 32

// ValidResourceTypeName reports whether name is a lowercase identifier:
// a letter a-z, then letters a-z, digits and underscores, at most
// MaxResourceTypeName bytes. Type names are part of keys and of
// RFC 9396 authorization_details types, so they are kept plain.
func ValidResourceTypeName(name string) bool {
	if name == "" || len(name) > MaxResourceTypeName || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// strictUnmarshal decodes JSON into v, refusing unknown keys and anything
// after the value.
func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}
