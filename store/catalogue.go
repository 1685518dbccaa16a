package store

import (
	"encoding/json"
	"fmt"
)

// Scope is one entry of the scope catalogue: its name and what it lets an
// app do, in Spanish and English, as the consent page says it.
type Scope struct {
	Name string `yaml:"name" json:"name"`
	ES   string `yaml:"es" json:"es"`
	EN   string `yaml:"en" json:"en"`
}

// Catalogue is the list of scopes apps may be registered for.
type Catalogue []Scope

// UnmarshalText reads a catalogue from JSON, the form it takes in the
// ENLACE_SCOPES environment variable.
func (c *Catalogue) UnmarshalText(b []byte) error {
	var v []Scope
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("scopes: want a JSON list of {name, es, en}: %w", err)
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
