package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/enlace-oauth/enlace/server/apierror"
	"github.com/enlace-oauth/enlace/store"
)

// invalidToken answers a missing or dead bearer token (RFC 6750 §3).
func invalidToken(c *gin.Context, desc string) {
	writeBearer(c, apierror.New(apierror.InvalidToken, desc))
}

// bearer checks the request's access token — a bearer token, or a
// DPoP-bound one with its proof (resource.Verifier.VerifyRequest) — and
// returns what it grants; otherwise it has answered (401, or unavailable
// when Redis cannot be asked) and returns false.
func (s *Server) bearer(c *gin.Context, unavailable func(*gin.Context)) (*store.TokenInfo, bool) {
	ai, refusal, cause := s.verifier.VerifyRequest(c.Request)
	switch {
	case cause != nil:
		s.log.ErrorContext(c.Request.Context(), "look up access token", "err", cause)
		unavailable(c)
		return nil, false
	case refusal != nil && refusal.Status == http.StatusServiceUnavailable:
		unavailable(c)
		return nil, false
	case refusal != nil:
		writeBearer(c, refusal)
		return nil, false
	}
	s.verifier.OfferNonce(c.Request.Context(), c.Writer.Header(), ai)
	return ai, true
}

// info is the platform's "app information" call: the app and merchant
// behind an access token, and what it may do.
func (s *Server) info(c *gin.Context) {
	ai, ok := s.bearer(c, func(c *gin.Context) { writeOAuth(c, apierror.Unavailable()) })
	if !ok {
		return
	}
	ctx := c.Request.Context()
	app, err := s.apps(ctx, ai.ClientID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load app", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	m, err := s.merchants.Get(ctx, ai.MerchantID)
	if err != nil {
		s.log.ErrorContext(c.Request.Context(), "load merchant", "err", err)
		writeOAuth(c, apierror.Unavailable())
		return
	}
	apierror.NoStore(c.Writer.Header())
	s.answerJSON(c, http.StatusOK, infoAnswer{
		OauthClientID: app.ClientID,
		MerchantID:    m.ID,
		CreatedByID:   m.ID,
		OwnerID:       m.ID,
		MerchantAppID: ai.ConnectionID,
		App:           infoApp{ID: app.ClientID, Name: app.Name},
		Merchant:      infoMerchant{ID: m.ID, Name: m.Name, Email: m.Email},
		Scopes:        grantedScopes(ai.Scopes, ai.Resources),
		Scope:         strings.Join(ai.Scopes, " "),
		Details:       authorizationDetails(ai.Scopes, ai.Resources, s.cfg.Scopes),
		ExpiresAt:     ai.ExpiresAt.UTC().Format(tokenTime),
	})
}

// infoAnswer is the body of /api/d/info. A struct, not a map: encoding
// it was a tenth of the call's CPU as a map (sorting, reflection on each
// value).
type infoAnswer struct {
	OauthClientID string `json:"OauthClientId"`
	MerchantID    string `json:"MerchantId"`
	// CreatedByID and OwnerID: as in the Multivende token answer.
	CreatedByID   string       `json:"CreatedById"`
	OwnerID       string       `json:"OwnerId"`
	MerchantAppID string       `json:"MerchantAppId"`
	App           infoApp      `json:"app"`
	Merchant      infoMerchant `json:"merchant"`
	Scopes        scopeGrants  `json:"scopes"`
	Scope         string       `json:"scope"`
	ExpiresAt     string       `json:"expiresAt"`
	// Details is the resource grant in RFC 9396's form, when a scope is
	// limited to some resources.
	Details []authorizationDetail `json:"authorization_details,omitempty"`
}

type infoApp struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
}

type infoMerchant struct {
	ID    string `json:"_id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// scopeGrants is the Multivende scopes object: each granted scope, and
// for which of the merchant's resources: {"all": true} for every one (the
// ones added later too), {"all": false, "W1": true} for those chosen.
// Keys are written in byte order, as encoding/json writes a map's.
type scopeGrants struct {
	scopes []string
	grant  store.ResourceGrant
}

func grantedScopes(scopes []string, g store.ResourceGrant) scopeGrants {
	return scopeGrants{scopes: scopes, grant: g}
}

// appendJSON writes the answer as encoding/json does (selfEncoding); a
// resource grant (authorization_details) is left to encoding/json.
func (a infoAnswer) appendJSON(b []byte) ([]byte, bool) {
	if len(a.Details) > 0 {
		return b, false
	}
	o := newObject(b)
	o.str("OauthClientId", a.OauthClientID)
	o.str("MerchantId", a.MerchantID)
	o.str("CreatedById", a.CreatedByID)
	o.str("OwnerId", a.OwnerID)
	o.str("MerchantAppId", a.MerchantAppID)
	app := o.open("app")
	app.str("_id", a.App.ID)
	app.str("name", a.App.Name)
	o.close(app)
	m := o.open("merchant")
	m.str("_id", a.Merchant.ID)
	m.str("name", a.Merchant.Name)
	m.str("email", a.Merchant.Email)
	o.close(m)
	o.key("scopes")
	o.raw(a.Scopes.appendJSON(o.b))
	o.str("scope", a.Scope)
	o.str("expiresAt", a.ExpiresAt)
	return o.end()
}

// MarshalJSON writes the object straight from the token's scopes and
// grant. Built as a map of maps, its reflection and sorting were a third
// of the encoding of /api/d/info, the busiest check. A key that is not a
// plain string (plainValue; the catalogue's scope names and resource ids are)
// sends the whole object through encoding/json instead, so that its
// escaping is never this code's to get right.
func (g scopeGrants) MarshalJSON() ([]byte, error) {
	if b, ok := g.appendJSON(make([]byte, 0, 32*len(g.scopes)+2)); ok {
		return b, nil
	}
	return json.Marshal(g.asMap())
}

// appendJSON appends the object, or reports that a key is not plain.
func (g scopeGrants) appendJSON(b []byte) ([]byte, bool) {
	scopes := slices.Clone(g.scopes)
	slices.Sort(scopes)
	scopes = slices.Compact(scopes)
	b = append(b, '{')
	for i, sc := range scopes {
		var ok bool
		if b, ok = appendKey(b, i, sc); !ok {
			return b, false
		}
		ids, limited := g.grant.Limited(sc)
		if !limited {
			b = append(b, `{"all":true}`...)
			continue
		}
		keys := slices.Concat(ids, []string{"all"})
		slices.Sort(keys)
		keys = slices.Compact(keys)
		b = append(b, '{')
		for j, k := range keys {
			if b, ok = appendKey(b, j, k); !ok {
				return b, false
			}
			// "all" is false beside chosen ids; an id named "all" would be
			// the same key, and a map would hold it once, true.
			b = strconv.AppendBool(b, k != "all" || slices.Contains(ids, "all"))
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// appendKey appends the i-th key of an object, k, with its colon (and the
// comma before it), or reports that k is not a plainValue.
func appendKey(b []byte, i int, k string) ([]byte, bool) {
	if !plainValue(k) {
		return b, false
	}
	if i > 0 {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, k...)
	return append(b, `":`...), true
}

// asMap is the object as the map encoding/json writes.
func (g scopeGrants) asMap() map[string]map[string]bool {
	out := make(map[string]map[string]bool, len(g.scopes))
	for _, sc := range g.scopes {
		ids, limited := g.grant.Limited(sc)
		if !limited {
			out[sc] = map[string]bool{"all": true}
			continue
		}
		m := make(map[string]bool, len(ids)+1)
		m["all"] = false
		for _, id := range ids {
			m[id] = true
		}
		out[sc] = m
	}
	return out
}

// authorizationDetail is one entry of RFC 9396 authorization_details: the
// scopes (actions) granted on one resource of a type.
type authorizationDetail struct {
	Type       string   `json:"type"`
	Actions    []string `json:"actions"`
	Identifier string   `json:"identifier"`
}

// authorizationDetails is the grant in RFC 9396's form, one entry per
// resource with the scopes limited to it, in the order of scopes and ids;
// nil when every scope reaches all of its resources.
func authorizationDetails(scopes []string, g store.ResourceGrant, cat store.Catalogue) []authorizationDetail {
	var out []authorizationDetail
	at := map[[2]string]int{}
	for _, sc := range scopes {
		ids, limited := g.Limited(sc)
		if !limited {
			continue
		}
		typ := cat.ResourceOf(sc)
		for _, id := range ids {
			k := [2]string{typ, id}
			if i, ok := at[k]; ok {
				out[i].Actions = append(out[i].Actions, sc)
				continue
			}
			at[k] = len(out)
			out = append(out, authorizationDetail{Type: typ, Actions: []string{sc}, Identifier: id})
		}
	}
	return out
}
